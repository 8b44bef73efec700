package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/keys"
)

func newKeygen() *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "keygen --name NAME -o FILE",
		Short: "Make an office's Ed25519 signing key; print its verifier key",
		Long: `keygen makes a signing key for an election office (the state's election
authority, or a county office that reports), writes the private key to FILE
(mode 0600; an existing file is never overwritten) and prints the verifier
key on standard output, in the C2SP signed-note form name+keyhash+base64 that
a manifest names and that anyone checks signatures with.

The private key is never printed or logged. Keep FILE where only the office
can read it; whoever holds it can sign as the office.

Example:

  ledger keygen --name cobb-elections -o cobb.key

Exit codes: 0 the key was made; 1 an error (a bad name, FILE exists).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("give the private key's file with -o FILE")
			}
			skey, vkey, err := keys.Generate(name)
			if err != nil {
				return err
			}
			if err := keys.WriteNew(out, skey); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), vkey)
			fmt.Fprintf(cmd.ErrOrStderr(), "private key written to %s (mode 0600); the line above is its verifier key\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the key's name: the office, without spaces or '+' (required)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "file to write the private key to; must not exist (required)")
	cmd.MarkFlagRequired("name")
	return cmd
}
