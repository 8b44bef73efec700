package importer

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/election-audit/ledger/events"
)

// BOM is the UTF-8 byte order mark, which some Windows tools write at the
// start of a file; the parsers skip it.
var BOM = []byte("\xef\xbb\xbf")

// InvalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8, or len(data) when all of it is.
func InvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// Preview quotes the start of b, at most 40 bytes and never half a
// character, for an error message; a cut value ends in "…".
func Preview(b []byte) string {
	const max = 40
	if len(b) > max {
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return strconv.Quote(string(b) + "…")
	}
	return strconv.Quote(string(b))
}

// Short cuts a number as written in a file to 24 bytes, for an error
// message; a cut value ends in "…".
func Short(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// TextProblem says what is wrong with a trimmed text value, as the end of an
// error message, or "" when nothing is: longer than events.MaxNameLength
// bytes, or control characters, which events refuses too.
func TextProblem(s string) string {
	switch {
	case len(s) > events.MaxNameLength:
		return fmt.Sprintf("longer than %d bytes", events.MaxNameLength)
	case strings.ContainsFunc(s, unicode.IsControl):
		return strconv.Quote(s) + " contains control characters"
	}
	return ""
}

// NameProblem is [TextProblem] that also refuses markup ('<' or '>'): no
// name needs it, and a viewer of the ledger might render it.
func NameProblem(s string) string {
	if p := TextProblem(s); p != "" {
		return p
	}
	if strings.ContainsAny(s, "<>") {
		return strconv.Quote(s) + " contains markup ('<' or '>')"
	}
	return ""
}

// CleanName is how a name as published becomes a label and the text its ID
// is made from: HTML entities decoded ("&amp;" gives "&"), line-break tags
// ("<br>", "<br/>", "<BR />") and paragraph tags as a space, other tags
// ("<b>", "</span>") removed, and runs of white space one space, trimmed.
// What is not a tag ("a < b") is kept, for [NameProblem] to refuse. The
// spelling as published stays in the source file and, where a format keeps
// them, in a choice's aliases.
func CleanName(s string) string {
	if !strings.ContainsAny(s, "<&") {
		if strings.Contains(s, "  ") || strings.IndexFunc(s, isOtherSpace) >= 0 || s != strings.TrimSpace(s) {
			return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
		}
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '<' {
			if end := tagEnd(s[i:]); end > 0 {
				b.WriteByte(' ')
				i += end
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	out := html.UnescapeString(b.String())
	return strings.Join(strings.FieldsFunc(out, unicode.IsSpace), " ")
}

// isOtherSpace reports whether r is white space other than ' '.
func isOtherSpace(r rune) bool { return r != ' ' && unicode.IsSpace(r) }

// tagEnd returns the length of the HTML tag s starts with ("<br>", "</b>",
// "<br />", "<span class=x>"), or 0 if s does not start with one.
func tagEnd(s string) int {
	i := 1
	if i < len(s) && s[i] == '/' {
		i++
	}
	if i >= len(s) || !('a' <= s[i]|0x20 && s[i]|0x20 <= 'z') {
		return 0
	}
	for ; i < len(s) && i < 256; i++ {
		switch s[i] {
		case '>':
			return i + 1
		case '<', '\n':
			return 0
		}
	}
	return 0
}
