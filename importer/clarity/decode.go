package clarity

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
)

// seg is one step of an element path: a name, its 1-based index among
// same-named siblings (0 for the root), and the line of its start tag.
type seg struct {
	name string
	idx  int
	line int
}

// walker streams tokens from the decoder and keeps the path of the
// element being read, for error messages.
type walker struct {
	file    string
	data    []byte
	d       *xml.Decoder
	path    []seg
	charset string // an encoding the file declared that Parse refuses
	ascii   bool   // the file declared US-ASCII
}

func (w *walker) init() error {
	if len(w.data) >= 2 && (w.data[0] == 0xfe && w.data[1] == 0xff || w.data[0] == 0xff && w.data[1] == 0xfe) {
		return w.fileErr("not UTF-8: the file starts with a UTF-16 byte order mark")
	}
	if !utf8.Valid(w.data) {
		off := importer.InvalidUTF8(w.data)
		return &importer.Error{File: w.file, Where: fmt.Sprintf("line %d", 1+bytes.Count(w.data[:off], []byte("\n"))),
			Msg: fmt.Sprintf("not valid UTF-8 at byte %d", off)}
	}
	body := bytes.TrimPrefix(w.data, importer.BOM)
	start := bytes.IndexFunc(body, func(r rune) bool { return !unicode.IsSpace(r) })
	switch {
	case start < 0:
		return w.fileErr("empty file: expected an XML document")
	case body[start] != '<':
		return w.fileErr(fmt.Sprintf("not XML: expected '<' at byte %d, found %s", start+len(w.data)-len(body), importer.Preview(body[start:])))
	}
	w.d = xml.NewDecoder(bytes.NewReader(body))
	w.d.Strict = true
	w.d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "us-ascii", "ascii":
			w.ascii = true
			return in, nil
		}
		w.charset = label
		return nil, errors.New("unsupported encoding")
	}
	return nil
}

func (w *walker) fileErr(msg string) error {
	return &importer.Error{File: w.file, Msg: msg}
}

// where is the current element path and its start tag's line.
func (w *walker) where() string {
	if len(w.path) == 0 {
		return ""
	}
	var b strings.Builder
	for i, s := range w.path {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(s.name)
		if s.idx > 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
		}
	}
	fmt.Fprintf(&b, " (line %d)", w.path[len(w.path)-1].line)
	return b.String()
}

// errf is an error at the current element.
func (w *walker) errf(format string, args ...any) error {
	return &importer.Error{File: w.file, Where: w.where(), Msg: fmt.Sprintf(format, args...)}
}

func (w *walker) push(name string, idx int) {
	line, _ := w.d.InputPos()
	w.path = append(w.path, seg{name, idx, line})
}

func (w *walker) pop() { w.path = w.path[:len(w.path)-1] }

// token returns the next token, turning decoder errors into *importer.Error
// and refusing declarations (<!DOCTYPE …>, <!ENTITY …>).
func (w *walker) token() (xml.Token, error) {
	tok, err := w.d.Token()
	if err != nil {
		return nil, w.decodeErr(err)
	}
	if dir, ok := tok.(xml.Directive); ok {
		what := string(dir)
		if i := strings.IndexFunc(what, unicode.IsSpace); i >= 0 {
			what = what[:i]
		}
		if len(what) > 20 {
			what = what[:20]
		}
		return nil, w.errf("<!%s …> declarations are refused: DTDs and entities are not part of the format", strings.ToValidUTF8(what, "?"))
	}
	return tok, nil
}

func (w *walker) decodeErr(err error) error {
	if w.charset != "" {
		return w.fileErr(fmt.Sprintf("declared encoding %q is not supported: only UTF-8 and US-ASCII are read", w.charset))
	}
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		if syn.Msg == "unexpected EOF" {
			if len(w.path) == 0 {
				return w.fileErr("truncated document: it ends before the root element is closed")
			}
			return w.errf("truncated document: it ends inside <%s>", w.path[len(w.path)-1].name)
		}
		where := fmt.Sprintf("line %d", syn.Line)
		if len(w.path) > 0 {
			where = w.where()
			where = where[:strings.LastIndex(where, " (line ")] + fmt.Sprintf(" (line %d)", syn.Line)
		}
		return &importer.Error{File: w.file, Where: where, Msg: "malformed XML: " + syn.Msg}
	}
	if errors.Is(err, io.EOF) {
		if len(w.path) == 0 {
			return w.fileErr("no root element: expected <ElectionResult>")
		}
		return w.errf("truncated document: it ends inside <%s>", w.path[len(w.path)-1].name)
	}
	return &importer.Error{File: w.file, Where: w.where(), Msg: "malformed XML: " + err.Error()}
}

// children reads the child elements of the current element up to its end
// tag, calling fn for each with its path pushed. fn must read its element
// to the end (with skip, text or children). Text between elements is
// ignored.
func (w *walker) children(fn func(se xml.StartElement) error) error {
	type count struct {
		name string
		n    int
	}
	var counts []count
	for {
		tok, err := w.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			k := 0
			for k < len(counts) && counts[k].name != name {
				k++
			}
			if k == len(counts) {
				counts = append(counts, count{name, 0})
			}
			counts[k].n++
			w.push(name, counts[k].n)
			if len(t.Attr) > MaxAttrs {
				return w.errf("%d attributes, more than the limit of %d", len(t.Attr), MaxAttrs)
			}
			for _, a := range t.Attr {
				if len(a.Value) > MaxValueLength {
					return w.errf("attribute %s is %d bytes long, more than the limit of %d", a.Name.Local, len(a.Value), MaxValueLength)
				}
				if err := w.checkASCII(a.Value); err != nil {
					return err
				}
			}
			if err := fn(t); err != nil {
				return err
			}
			w.pop()
		case xml.EndElement:
			return nil
		}
	}
}

// skip reads the current element to its end, ignoring it.
func (w *walker) skip() error {
	return w.children(func(xml.StartElement) error { return w.skip() })
}

// text reads the text of the current element, which must have no child
// elements, trimmed.
func (w *walker) text() (string, error) {
	var b []byte
	for {
		tok, err := w.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b = append(b, t...)
			if len(b) > MaxValueLength {
				return "", w.errf("text longer than the limit of %d bytes", MaxValueLength)
			}
		case xml.StartElement:
			return "", w.errf("unexpected element <%s> inside text", t.Name.Local)
		case xml.EndElement:
			s := string(b)
			return strings.TrimSpace(s), w.checkASCII(s)
		}
	}
}

func (w *walker) checkASCII(s string) error {
	if !w.ascii {
		return nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return w.errf("non-ASCII text in a file declared US-ASCII")
		}
	}
	return nil
}

// attr returns the value of the attribute named name, and whether it is
// present.
func attr(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// name reads a name as published and returns it as a label: trimmed, then
// cleaned by importer.CleanName (entities decoded, tags such as <br>
// removed, runs of white space one space), then checked: present, short,
// no control characters, no markup left. Tabs and line breaks count as
// white space; other control characters are refused as published, before
// cleaning could turn some of them (U+0085) into a space. what says what
// it is in messages ("attribute text").
func (w *walker) name(what, s string) (string, error) {
	raw := strings.TrimSpace(s)
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) {
		return "", w.errf("%s: %s contains control characters", what, strconv.Quote(raw))
	}
	s = importer.CleanName(raw)
	switch {
	case s == "":
		return "", w.errf("%s: missing", what)
	case len(s) > events.MaxNameLength:
		return "", w.errf("%s: %d bytes, longer than the limit of %d", what, len(s), events.MaxNameLength)
	}
	if p := importer.NameProblem(s); p != "" {
		return "", w.errf("%s: %s", what, p)
	}
	return s, nil
}

// verbatim returns a name as published, trimmed, if it can be kept as a
// choice's alias: it differs from the label clean and passes
// importer.TextProblem (events' rule for aliases). Otherwise "".
func verbatim(s, clean string) string {
	raw := strings.TrimSpace(s)
	if raw == clean || importer.TextProblem(raw) != "" {
		return ""
	}
	return raw
}

// nameAttr reads a required name attribute.
func (w *walker) nameAttr(se xml.StartElement, a string) (string, error) {
	v, _ := attr(se, a)
	return w.name("attribute "+a, v)
}

// count parses a vote count or turnout figure: decimal digits, 0 to
// events.MaxVotes.
func (w *walker) count(a, s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, w.errf("attribute %s: empty, want a whole number", a)
	}
	digits := strings.TrimPrefix(t, "-")
	whole := digits != ""
	for i := 0; i < len(digits); i++ {
		whole = whole && '0' <= digits[i] && digits[i] <= '9'
	}
	switch {
	case !whole:
		return 0, w.errf("attribute %s: %s is not a whole number", a, quoteShort(t))
	case len(digits) < len(t):
		return 0, w.errf("attribute %s: %s is negative", a, quoteShort(t))
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > events.MaxVotes {
		return 0, w.errf("attribute %s: %s is more than the limit of %d", a, quoteShort(t), int64(events.MaxVotes))
	}
	return n, nil
}

// countAttr reads an attribute holding a count; ok is false when absent.
func (w *walker) countAttr(se xml.StartElement, a string) (n int64, ok bool, err error) {
	v, ok := attr(se, a)
	if !ok {
		return 0, false, nil
	}
	n, err = w.count(a, v)
	return n, true, err
}

// quoteShort quotes a value for an error message, cut if it is long.
func quoteShort(s string) string { return strconv.Quote(importer.Short(s)) }
