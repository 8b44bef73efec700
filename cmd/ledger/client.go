package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/election-audit/ledger/client"
)

// ReadTokenEnv names the environment variable whose value, if set, every
// command sends as the read token of the ledger (`ledger serve
// --read-token`): kept out of the command line, which other local users
// can see.
const ReadTokenEnv = "LEDGER_READ_TOKEN"

// newClient returns a client of the ledger at server, with the read token
// of LEDGER_READ_TOKEN if set.
func newClient(server string) (*client.Client, error) {
	c, err := client.New(server, nil)
	if err != nil {
		return nil, err
	}
	if t := os.Getenv(ReadTokenEnv); t != "" {
		c = c.WithReadToken(t)
	}
	return c, nil
}

// withKnownElections returns err, a failed request about election, with
// the elections the ledger has when election is not one of them (the
// ledger answered 404), so that a mistyped ID shows the right ones.
func withKnownElections(ctx context.Context, c *client.Client, election string, err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		return err
	}
	list, lerr := c.Elections(ctx)
	if lerr != nil {
		return err
	}
	ids := make([]string, 0, len(list))
	for _, e := range list {
		if e.ID == election {
			return err // known: the 404 is about something else
		}
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w (this ledger has no elections yet)", err)
	}
	return fmt.Errorf("%w (this ledger's elections: %s)", err, strings.Join(ids, ", "))
}
