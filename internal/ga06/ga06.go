// Package ga06 embeds the official results of Georgia's 6th congressional
// district special election of 18 April 2017 and its runoff of 20 June 2017,
// for tests, benchmarks and the demo.
//
// For most uses, call [April] or [June] for the parsed county-level results.
//
// The files are byte-for-byte copies of public records from the
// openelections repositories on GitHub; data/SOURCES.md says where each one
// comes from (repository, commit, git blob id) and which totals were checked,
// and data/SHA256SUMS lists their hashes:
//
//   - export-2017AprSpec.json, export-2017JunSpecRun.json: the Georgia
//     Secretary of State's JSON results exports (county level, by vote type),
//     read by package importer/gasos.
//   - 20170620__ga__special__general__runoff__{cobb,dekalb,fulton}__precinct.csv:
//     precinct-level results of the runoff, from openelections-data-ga. Each
//     ends with a county roll-up row (TOTAL, or Total in DeKalb) that is not
//     a precinct.
package ga06

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/election-audit/ledger/importer"
	"github.com/election-audit/ledger/importer/gasos"
	"github.com/election-audit/ledger/importer/openelections"
)

//go:embed data
var data embed.FS

// Election IDs and file names of the two elections.
const (
	AprilElection = "ga06-2017-04"
	AprilFile     = "export-2017AprSpec.json"
	JuneElection  = "ga06-2017-06"
	JuneFile      = "export-2017JunSpecRun.json"
)

// Files returns the data files, at the root of the returned file system
// ("export-2017AprSpec.json", "SOURCES.md", …).
func Files() fs.FS {
	sub, err := fs.Sub(data, "data")
	if err != nil {
		panic(err) // "data" is a valid path, so fs.Sub cannot fail
	}
	return sub
}

// April returns the parsed results of the special election of 18 April 2017,
// election ID [AprilElection].
func April() (*importer.Import, error) { return parse(AprilFile, AprilElection) }

// June returns the parsed results of the runoff of 20 June 2017, election ID
// [JuneElection].
func June() (*importer.Import, error) { return parse(JuneFile, JuneElection) }

// PrecinctFiles are the runoff's precinct-level OpenElections files.
var PrecinctFiles = []string{
	"20170620__ga__special__general__runoff__cobb__precinct.csv",
	"20170620__ga__special__general__runoff__dekalb__precinct.csv",
	"20170620__ga__special__general__runoff__fulton__precinct.csv",
}

// JunePrecincts returns the parsed precinct results of the runoff of 20
// June 2017 (208 precincts), election ID [JuneElection].
func JunePrecincts() (*importer.Import, error) {
	var files []openelections.File
	for _, name := range PrecinctFiles {
		data, err := fs.ReadFile(Files(), name)
		if err != nil {
			return nil, err
		}
		files = append(files, openelections.File{Name: name, Data: data})
	}
	return openelections.ParseFiles(files, JuneElection, openelections.Options{})
}

// JuneMerged returns the runoff as one election: the state's county-level
// export ([June]) with the precinct files ([JunePrecincts]) merged in by
// importer.Merge: the export's manifest with the precincts, the "total"
// vote type and the turnout contest added, then the counties' reports and
// the precincts'.
func JuneMerged() (*importer.Import, error) {
	counties, err := June()
	if err != nil {
		return nil, err
	}
	precincts, err := JunePrecincts()
	if err != nil {
		return nil, err
	}
	return importer.Merge(counties, precincts)
}

func parse(file, election string) (*importer.Import, error) {
	f, err := Files().Open(file)
	if err != nil {
		return nil, fmt.Errorf("couldn't open embedded %s: %w", file, err)
	}
	defer f.Close()
	imp, err := gasos.Parse(f, file, election)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse embedded %s: %w", file, err)
	}
	return imp, nil
}
