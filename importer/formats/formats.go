// Package formats reads results files of any supported format by name: the
// one place that knows every importer, for the command line and the demo.
//
// For most uses, call [Parse] with a format name from [Names].
package formats

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/clarity"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/nist"
	"github.com/election-audit/ledger/importer/openelections"
)

// Format names.
const (
	OpenElections = "openelections" // OpenElections CSV (package openelections)
	GASOS         = "ga-sos"        // Georgia Secretary of State JSON export (package gasos)
	Clarity       = "clarity"       // Clarity ENR detail XML (package clarity)
	NIST          = "nist"          // NIST SP 1500-100 v2 JSON ElectionReport (package nist)
)

// Names lists the formats, for help texts.
var Names = []string{OpenElections, GASOS, Clarity, NIST}

// File is one results file: its name (its base name becomes the reports'
// source) and its bytes.
type File = openelections.File

// Options are the format-specific settings; each format reads its own and
// ignores the rest.
type Options struct {
	OpenElections openelections.Options
	Clarity       clarity.Options
}

// ReadFiles reads files from disk, refusing any larger than
// importer.MaxFileSize.
func ReadFiles(names []string) ([]File, error) {
	files := make([]File, 0, len(names))
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil {
			return nil, fmt.Errorf("couldn't read %s: %w", n, err)
		}
		if st.Size() > importer.MaxFileSize {
			return nil, fmt.Errorf("couldn't read %s: %d bytes, more than the limit of %d", n, st.Size(), importer.MaxFileSize)
		}
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("couldn't read %s: %w", n, err)
		}
		files = append(files, File{Name: n, Data: data})
	}
	return files, nil
}

// Parse reads the files of one election in the named format. OpenElections
// files are read together (county files of one election make one manifest);
// files of the other formats one by one, and merged in order with
// [importer.Merge]. A file that fails to parse fails the whole call.
func Parse(format string, files []File, election string, opts Options) (*importer.Import, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("couldn't import: no files given")
	}
	if format == OpenElections {
		return openelections.ParseFiles(files, election, opts.OpenElections)
	}
	imps := make([]*importer.Import, 0, len(files))
	for _, f := range files {
		var imp *importer.Import
		var err error
		r := bytes.NewReader(f.Data)
		switch format {
		case GASOS:
			imp, err = gasos.Parse(r, f.Name, election)
		case Clarity:
			imp, err = clarity.Parse(r, f.Name, election, &opts.Clarity)
		case NIST:
			imp, err = nist.Parse(r, f.Name, election)
		default:
			return nil, fmt.Errorf("unknown format %q: use one of %s", format, strings.Join(Names, ", "))
		}
		if err != nil {
			return nil, err
		}
		imps = append(imps, imp)
	}
	if len(imps) == 1 {
		return imps[0], nil
	}
	return importer.Merge(imps...)
}
