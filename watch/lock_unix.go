//go:build unix

package watch

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockState takes an exclusive lock on the state of one election
// (<path>.lock, an advisory flock held while the file is open), so that
// two watchers cannot interleave their writes to one state file. The
// lock goes with the process if it dies.
func lockState(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("couldn't open the watcher's lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another watcher is using the state %s: stop it, or give this one another state directory", path)
		}
		return nil, fmt.Errorf("couldn't lock the watcher's state %s: %w", path, err)
	}
	return f, nil
}
