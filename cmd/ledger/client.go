package main

import (
	"os"

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
