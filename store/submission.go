package store

// PutSubmission stores the signed bytes of a submission that entries of
// an election came from, by their SHA-256 (which the entries name).
func (b *Batch) PutSubmission(election string, sha256 [32]byte, data []byte) {
	b.set(submissionKey(election, sha256), data)
}

// Submission returns the signed bytes of a submission by their SHA-256.
func (d *DB) Submission(election string, sha256 [32]byte) ([]byte, error) {
	return d.get(submissionKey(election, sha256))
}

func submissionKey(election string, sha256 [32]byte) []byte {
	return append(electionPrefix(tagSubmission, election), sha256[:]...)
}
