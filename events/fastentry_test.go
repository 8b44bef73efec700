package events

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fastSeeds are stored entries in canonical form, and near misses.
func fastSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range []string{"entry.accepted.json", "entry.rejected.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	acc := string(out[0])
	for _, s := range []string{
		strings.Replace(acc, `"votes":156`, `"votes":0156`, 1),
		strings.Replace(acc, `"votes":156`, `"votes":-156`, 1),
		strings.Replace(acc, `"votes":156`, `"votes":1000000001`, 1),
		strings.Replace(acc, `"votes":156`, `"votes":156.0`, 1),
		strings.Replace(acc, `"unit":"dekalb"`, `"unit":"de\u006balb"`, 1),
		strings.Replace(acc, `"unit":"dekalb"`, `"unit":"DeKalb"`, 1),
		strings.Replace(acc, `"unit":"dekalb"`, `"unit":""`, 1),
		strings.Replace(acc, `"expected_version":0,`, ``, 1),
		strings.Replace(acc, `"expected_version":0,`, `"expected_version":18446744073709551616,`, 1),
		strings.Replace(acc, `"accepted"`, `"rejected","reason":"r"`, 1),
		strings.Replace(acc, `"accepted"`, `"maybe"`, 1),
		strings.Replace(acc, `Z"`, `+02:00"`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-02-30T02:41:00Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2016-02-29T23:59:59.5Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2100-02-29T00:00:00Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-04-19T24:00:00Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-04-19T02:41:60Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-04-19T02:41:00.2718281828Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-04-19T02:41:00.Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-04-19t02:41:00Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `0000-01-01T00:00:00Z`, 1),
		strings.Replace(acc, `2017-04-19T02:41:00.271828182Z`, `2017-04-31T00:00:00Z`, 1),
		acc + " ",
		strings.TrimSuffix(acc, "}"),
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestFastEntryTaken checks that the fast path really decodes the canonical
// form, so that replays use it.
func TestFastEntryTaken(t *testing.T) {
	seeds := fastSeeds(t)
	for i, b := range [][]byte{seeds[0],
		[]byte(strings.Replace(string(seeds[0]), `"accepted"`, `"rejected","reason":"a stale version"`, 1)),
		[]byte(strings.Replace(string(seeds[0]), `2017-04-19T02:41:00.271828182Z`, `2016-02-29T23:59:59.5Z`, 1)),
		[]byte(strings.Replace(string(seeds[0]), `2017-04-19T02:41:00.271828182Z`, `2017-04-19T02:41:00Z`, 1)),
	} {
		if _, ok := decodeEntryFast(b); !ok {
			t.Errorf("seed %d: the fast path refuses a canonical stored entry", i)
		}
	}
}

// FuzzFastEntry holds the fast path to its contract: whenever it decodes an
// entry, the strict decoder decodes the same entry.
func FuzzFastEntry(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	var d Decoder // shared across inputs, as a replay's worker shares one
	f.Fuzz(func(t *testing.T, data []byte) {
		viaDecoder, derr := d.DecodeEntry(data)
		plain, perr := DecodeEntry(data)
		if (derr == nil) != (perr == nil) || (derr == nil && !reflect.DeepEqual(viaDecoder, plain)) {
			t.Fatalf("a Decoder and DecodeEntry disagree on\n%s\nDecoder:     %+v, %v\nDecodeEntry: %+v, %v", data, viaDecoder, derr, plain, perr)
		}
		fast, ok := decodeEntryFast(data)
		if !ok {
			return
		}
		strict, err := decodeEntryStrict(data)
		if err != nil {
			t.Fatalf("the fast path accepts what the strict decoder refuses (%v):\n%s", err, data)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("fast and strict decoders disagree on\n%s\nfast:   %+v\nstrict: %+v", data, fast, strict)
		}
	})
}

// FuzzFastEvent holds the event fast path to its contract: whenever it
// decodes an event, the strict decoder decodes the same event, and the
// input is its canonical encoding.
func FuzzFastEvent(f *testing.F) {
	for _, name := range []string{"count.reported.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimSpace(b))
		s := string(bytes.TrimSpace(b))
		for _, v := range []string{
			strings.Replace(s, `"unit":"dekalb"`, `"unit":"de<kalb"`, 1),
			strings.Replace(s, `,"expected_version":0`, ``, 1),
			strings.Replace(s, `"sha256":"`, `"sha256":"X`, 1),
		} {
			f.Add([]byte(v))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeCanonicalFast(data)
		if !ok {
			return
		}
		strict, err := decode(data)
		if err != nil {
			t.Fatalf("the fast path accepts what the strict decoder refuses (%v):\n%s", err, data)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("fast and strict decoders disagree on\n%s", data)
		}
		enc, err := strict.Encode()
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("the fast path took a non-canonical input (%v):\ninput %s\ncanon %s", err, data, enc)
		}
	})
}

func TestFastEventTaken(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "count.reported.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := decodeCanonicalFast(bytes.TrimSpace(b)); !ok {
		t.Fatalf("the fast path refuses a canonical event:\n%s", b)
	}
}

// FuzzSummarize: whenever an entry decodes, Summarize agrees with it; and
// Summarize never panics.
func FuzzSummarize(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	for _, name := range []string{"entry.rejected.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Replace(b, []byte(`"reason":"`), []byte(`"reason":"a \"quoted\" `), 1))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, serr := Summarize(data)
		en, err := DecodeEntry(data)
		if err != nil {
			return
		}
		if serr != nil || s != (Summary{en.Index, en.Verdict, en.Event.Type()}) {
			t.Fatalf("Summarize gives %+v, %v; the entry is %d %s %s:\n%s", s, serr, en.Index, en.Verdict, en.Event.Type(), data)
		}
	})
}
