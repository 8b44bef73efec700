package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newAuditBundle() *cobra.Command {
	return &cobra.Command{Use: "bundle", Short: "Write a court bundle", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("not built yet") }}
}

func newAuditVerifyBundle() *cobra.Command {
	return &cobra.Command{Use: "verify-bundle", Short: "Verify a court bundle offline", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("not built yet") }}
}
