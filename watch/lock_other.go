//go:build !unix

package watch

import "os"

// lockState opens the lock file without locking it: this platform has no
// flock. Two watchers must not share a state directory.
func lockState(path string) (*os.File, error) {
	return os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
}
