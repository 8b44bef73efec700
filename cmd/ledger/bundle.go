package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/store"
)

func newAuditBundle() *cobra.Command {
	var dataDir, election, out string
	var asOf uint64
	cmd := &cobra.Command{
		Use:   "bundle --election ID [--as-of N] -o FILE",
		Short: "Write a court bundle of an election's log: entries [0, N), signed checkpoint, key, tally (offline)",
		Long: `bundle writes one file that lets anyone check, with no network and no data
directory, the tally of an election after its first N log entries: the
entries [0, N) exactly as stored, the checkpoint the ledger signed at size N
(and its earlier ones), the verifier key, the manifest, the tally at N, and a
README on how to verify it by hand. The format is in docs/bundle.md; check a
bundle with ` + "`ledger audit verify-bundle`" + `.

It reads a data directory (or a copy of one) with the server stopped, and
uses the key in DATA/ledger.pub; the bundle's key.txt holds the election's
log key, derived from it (named by the log's origin). N must be a size at
which the ledger signed a checkpoint (it signs at the end of each step);
--as-of defaults to the latest size. The same log and N give a
byte-identical file.

The bundle is written to a temporary file beside FILE, verified, and only
then renamed to FILE: a failure never leaves a partial bundle.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if election == "" {
				return errors.New("--election is required")
			}
			if out == "" {
				return errors.New("-o FILE is required")
			}
			if cmd.Flags().Changed("as-of") && asOf == 0 {
				return errors.New("--as-of must be at least 1: a bundle holds at least entry 0, the manifest")
			}
			keyFile := filepath.Join(dataDir, checkpoint.PublicKeyFile)
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("couldn't read the verifier key (is --data right?): %w", err)
			}
			key := strings.TrimSpace(string(b))
			if _, err := os.Stat(filepath.Join(dataDir, "pebble")); err != nil {
				return fmt.Errorf("%s has no ledger database (is --data right?): %w", dataDir, err)
			}
			db, err := store.Open(filepath.Join(dataDir, "pebble"))
			if err != nil {
				return fmt.Errorf("%w (stop `ledger serve` on this data directory, or bundle a copy)", err)
			}
			defer db.Close()
			size, err := latestSize(db, election)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("as-of") {
				asOf = size
			}
			info, written, err := writeBundleFile(out, func(f *os.File) (*audit.BundleInfo, error) {
				w := bufio.NewWriter(f)
				info, err := audit.WriteBundle(w, db, election, asOf, key)
				if err == nil {
					err = w.Flush()
				}
				return info, err
			}, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes): %s, entries [0, %d), root %s, tally sha256 %x\n",
				out, written, info.Election, info.Size, info.Root, info.TallySHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", defaultDataDir, "data directory (or a copy of one)")
	cmd.Flags().StringVar(&election, "election", "", "the election to bundle (required)")
	cmd.Flags().Uint64Var(&asOf, "as-of", 0, "bundle entries [0, N): a size with a signed checkpoint (default the latest size)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the bundle file to write (required)")
	return cmd
}

// latestSize returns an election's log size.
func latestSize(db *store.DB, election string) (uint64, error) {
	size, found, err := db.TreeSize(election)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w %q (elections in this ledger: %s)", audit.ErrUnknownElection, election, electionList(db))
	}
	return size, nil
}

func electionList(db *store.DB) string {
	var ids []string
	db.Elections(func(id string, _ uint64) error { ids = append(ids, id); return nil })
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// writeBundleFile writes a bundle to a temporary file beside path, syncs
// it, verifies it against key, and renames it to path; on any failure it
// removes the temporary file and path is untouched.
func writeBundleFile(path string, write func(*os.File) (*audit.BundleInfo, error), key string) (_ *audit.BundleInfo, size int64, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't create the bundle file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	info, err := write(f)
	if err != nil {
		return nil, 0, err
	}
	if err = f.Sync(); err != nil {
		return nil, 0, fmt.Errorf("couldn't write %s: %w", tmp, err)
	}
	if _, err = f.Seek(0, 0); err != nil {
		return nil, 0, err
	}
	if _, err = audit.VerifyBundle(bufio.NewReader(f), key); err != nil {
		return nil, 0, fmt.Errorf("the bundle just written does not verify (nothing was written to %s): %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if err = f.Chmod(0o644); err != nil {
		return nil, 0, err
	}
	if err = f.Close(); err != nil {
		return nil, 0, fmt.Errorf("couldn't write %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return nil, 0, fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("couldn't sync %s: %w", dir, err)
		}
	}
	return info, fi.Size(), nil
}

func newAuditVerifyBundle() *cobra.Command {
	var key, authority string
	cmd := &cobra.Command{
		Use:   "verify-bundle FILE [--key KEY]",
		Short: "Verify a court bundle offline: entries, Merkle root, signatures and tally",
		Long: `verify-bundle checks a court bundle (made by ` + "`ledger audit bundle`" + `) with no
network and no data directory: the archive is read strictly; every entry is
re-hashed, decoded and checked to carry its index, to be in its canonical
encoding and to hold an event ID no earlier entry has, with its verdict
re-decided by the election's rules; the Merkle root at every signed size is
rebuilt and
compared with the signed checkpoints; every signature is checked; the tally is
replayed from the entries and compared byte for byte with the bundled one; and
each member's size and SHA-256 is compared with bundle.json.

Every entry is also held to the signed submission it came in (the bundle
carries them): the submission's bytes, its signature by the key the entry
names, and its event, byte for byte; and every verdict weighs whether that
key could make the event (the authority the manifest names, or a reporter
key the authority registered for the unit), from the log itself.

--key is the ledger's verifier key you trust (a key string, or a file
holding one), obtained from the election authority: the ledger key (named by
the ledger name, as in DATA/ledger.pub) or the election's log key (named by
the log's origin, <ledger name>/<election>). The bundle's key.txt must be
exactly the election's log key, derived from the ledger key if that is what
you give. Without --key the bundle is checked against the key inside it,
which proves only that it is consistent, not who signed it.

--authority is the election authority's verifier key you trust (a key
string, or a file holding one), published by the election office: the
manifest must name exactly this key. Without it, the offices' signatures are
checked against the authority the manifest names, which proves who signed
only once you know that key is the office's.

On success it prints the election, N, the root, the tally's SHA-256 and OK.
On the first fault it names the member and, where an entry is at fault, its
index, and exits with status 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key != "" {
				if b, err := os.ReadFile(key); err == nil {
					key = strings.TrimSpace(string(b))
				}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			info, err := audit.VerifyBundle(bufio.NewReaderSize(f, 1<<20), key)
			if err != nil {
				return fmt.Errorf("verification FAILED: %s: %w", args[0], err)
			}
			authTrust := "named by the manifest; pass --authority to require the one you trust"
			if authority != "" {
				if b, err := os.ReadFile(authority); err == nil {
					authority = string(b)
				}
				authority = strings.TrimSpace(authority)
				if info.Authority != authority {
					return fmt.Errorf("verification FAILED: %s: the manifest names authority %s, not the required %s", args[0], info.Authority, authority)
				}
				authTrust = "required by --authority"
			}
			trust := "required by --key"
			if key == "" {
				trust = "the bundle's own; pass --key to require the key you trust"
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "election     %s\n", info.Election)
			fmt.Fprintf(w, "entries      %d (N: entries 0 to %d)\n", info.Size, info.Size-1)
			fmt.Fprintf(w, "root         %s\n", info.Root)
			fmt.Fprintf(w, "key          %s (%s)\n", info.Key, trust)
			fmt.Fprintf(w, "checkpoints  %d signed, all verified\n", info.Checkpoints)
			fmt.Fprintf(w, "authority    %s (%s)\n", info.Authority, authTrust)
			fmt.Fprintf(w, "submissions  %d signed, every entry held to its own\n", info.Submissions)
			fmt.Fprintf(w, "tally        sha256 %x\n", info.TallySHA256)
			fmt.Fprintln(w, "OK")
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the verifier key the bundle must carry, or a file holding it")
	cmd.Flags().StringVar(&authority, "authority", "", "the election authority's verifier key the manifest must name, or a file holding it")
	return cmd
}
