package importer

import (
	"strings"
	"unicode"
)

// maxSlug caps a derived ID, so that an ID with a disambiguating suffix
// stays within events.MaxIDLength.
const maxSlug = 60

// Slug derives a stable ID from a name: lower case ASCII letters and digits,
// words joined by '-'. A '.' or apostrophe right after a letter is dropped
// rather than splitting the word ("U.S." gives "us", "O'Brien" "obrien");
// common accented Latin letters are folded ("José" gives "jose"); anything
// else separates words. The result is at most maxSlug bytes and may be empty.
func Slug(s string) string {
	var b strings.Builder
	sep, afterLetter := false, false
	write := func(t string) {
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteString(t)
	}
	for _, r := range s {
		r = unicode.ToLower(r)
		switch {
		case 'a' <= r && r <= 'z':
			write(string(r))
			afterLetter = true
		case '0' <= r && r <= '9':
			write(string(r))
			afterLetter = false
		case (r == '.' || r == '\'' || r == '’') && afterLetter:
			// keep the word together
		default:
			if f := fold(r); f != "" {
				write(f)
				afterLetter = true
				continue
			}
			sep, afterLetter = true, false
		}
	}
	out := b.String()
	if len(out) > maxSlug {
		out = strings.TrimRight(out[:maxSlug], "-")
	}
	return out
}

// folds maps lower-case accented Latin letters to ASCII.
var folds = [...]struct{ from, to string }{
	{"àáâãäåāăą", "a"}, {"æ", "ae"}, {"çćĉċč", "c"}, {"ďđð", "d"},
	{"èéêëēĕėęě", "e"}, {"ĝğġģ", "g"}, {"ĥħ", "h"}, {"ìíîïĩīĭįı", "i"},
	{"ĳ", "ij"}, {"ĵ", "j"}, {"ķ", "k"}, {"ĺļľŀł", "l"}, {"ñńņňŉ", "n"},
	{"òóôõöøōŏő", "o"}, {"œ", "oe"}, {"ŕŗř", "r"}, {"śŝşš", "s"}, {"ß", "ss"},
	{"ţťŧ", "t"}, {"þ", "th"}, {"ùúûüũūŭůűų", "u"}, {"ŵ", "w"}, {"ýÿŷ", "y"},
	{"źżž", "z"},
}

func fold(r rune) string {
	if r < 0x80 {
		return ""
	}
	for _, f := range folds {
		if strings.ContainsRune(f.from, r) {
			return f.to
		}
	}
	return ""
}

// romanNumeral reports whether a word is a generational suffix that stays
// upper case when a name is title-cased ("Henry Ford III").
func romanNumeral(w string) bool {
	switch w {
	case "II", "III", "IV", "VI", "VII", "VIII":
		return true
	}
	return false
}

// TitleCase turns an all upper-case name into title case ("JON OSSOFF" gives
// "Jon Ossoff", `ROYDEN "ROY" DANIELS` gives `Royden "Roy" Daniels`,
// "O'BRIEN-SMITH III" gives "O'Brien-Smith III"). A name with any lower-case
// letter is already cased by its author and is returned as given.
func TitleCase(s string) string {
	if strings.IndexFunc(s, unicode.IsLower) >= 0 {
		return s
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		if romanNumeral(strings.TrimRight(w, ",.")) {
			continue
		}
		words[i] = titleWord(w)
	}
	return strings.Join(words, " ")
}

func titleWord(w string) string {
	var b strings.Builder
	start, run := true, 0 // run counts the letters since the last non-letter
	for _, r := range w {
		switch {
		case unicode.IsLetter(r):
			if start {
				b.WriteRune(unicode.ToUpper(r))
			} else {
				b.WriteRune(unicode.ToLower(r))
			}
			start = false
			run++
			continue
		case r == '\'' || r == '’':
			// O'Brien, D'Angelo; but not "Don't".
			start = run == 1
		case unicode.IsDigit(r):
			start = false // "3RD" gives "3rd"
		default:
			start = true
		}
		b.WriteRune(r)
		run = 0
	}
	return b.String()
}

// StripParty removes a trailing party tag, " (REP)", from a candidate name
// when it repeats the option's politicalParty.
func StripParty(name, party string) string {
	if party == "" {
		return name
	}
	tag := "(" + party + ")"
	n := len(name) - len(tag)
	if n <= 0 || !strings.EqualFold(name[n:], tag) {
		return name
	}
	if s := strings.TrimSpace(name[:n]); s != "" {
		return s
	}
	return name
}
