package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
)

// Source reads stored entries through the HTTP API, in pages, for the
// audit functions (audit.Source): they recompute everything from the entry
// bytes, so the server need not be trusted.
type Source struct {
	Client *Client
	Ctx    context.Context
}

// Entries calls fn for entries [start, end) in order.
func (s Source) Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error {
	for start < end {
		page, err := s.Client.Entries(s.Ctx, election, start, min(end-start, 1000))
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return fmt.Errorf("the ledger has no entry %d of %s", start, election)
		}
		for _, data := range page {
			if err := fn(start, data); err != nil {
				return err
			}
			start++
		}
	}
	return nil
}

// Submission returns the signed bytes of a submission of an election by
// their SHA-256 (audit.SubmissionSource). A submission the ledger does not
// have is an error that wraps fs.ErrNotExist.
func (s Source) Submission(election string, sha256 [32]byte) ([]byte, error) {
	b, err := s.Client.Submission(s.Ctx, election, sha256)
	var ce *Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
	}
	return b, err
}
