package nist

// SetMaxFileSize lowers the size limit for a test and returns the function
// that restores it.
func SetMaxFileSize(n int64) (restore func()) {
	old := maxFileSize
	maxFileSize = n
	return func() { maxFileSize = old }
}
