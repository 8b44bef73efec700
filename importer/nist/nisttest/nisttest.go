// Package nisttest validates documents against the NIST SP 1500-100 v2
// JSON schema shipped in importer/nist/testdata, for tests: those of
// importer/nist and of every package that exports NIST reports.
package nisttest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaFile is the shipped schema's path, from this file's directory.
func SchemaFile() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "testdata", "NIST_V2_election_results_reporting.json")
}

// Schema compiles the shipped schema for the draft it declares, with
// formats asserted.
func Schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(SchemaFile())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	declared, _ := doc.(map[string]any)["$schema"].(string)
	var draft *jsonschema.Draft
	switch strings.TrimSuffix(declared, "#") {
	case "http://json-schema.org/draft-04/schema":
		draft = jsonschema.Draft4
	case "http://json-schema.org/draft-06/schema":
		draft = jsonschema.Draft6
	case "http://json-schema.org/draft-07/schema":
		draft = jsonschema.Draft7
	default:
		t.Fatalf("the schema declares $schema %q, which this test does not know", declared)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(draft)
	c.AssertFormat()
	url := "file://" + filepath.ToSlash(path)
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Validate checks a JSON document against a compiled schema.
func Validate(s *jsonschema.Schema, data []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(doc)
}
