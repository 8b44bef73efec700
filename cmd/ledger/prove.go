package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newAuditProve() *cobra.Command {
	return &cobra.Command{Use: "prove", Short: "Inclusion and consistency proofs", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("not built yet") }}
}
