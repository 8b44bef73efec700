package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBench() *cobra.Command {
	return &cobra.Command{
		Use:    "bench",
		Short:  "Measure ingest against the raw JetStream and Pebble ceilings",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("not built yet")
		},
	}
}
