//go:build unix

package api

import "syscall"

// fileLimit returns the process's limit of open files (the soft limit,
// which the Go runtime raises to the hard one at start on Linux).
func fileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true // RLIM_INFINITY is the largest value
}
