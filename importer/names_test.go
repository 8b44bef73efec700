package importer

import "testing"

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"U.S. Representative, District 6": "us-representative-district-6",
		"State Senator, District 32":      "state-senator-district-32",
		"JON OSSOFF":                      "jon-ossoff",
		`ROYDEN "ROY" DANIELS`:            "royden-roy-daniels",
		"Absentee by Mail":                "absentee-by-mail",
		"DeKalb":                          "dekalb",
		"O'BRIEN-SMITH JR.":               "obrien-smith-jr",
		"José Nuñez Ærø":                  "jose-nunez-aero",
		"  --Question 1.5--  ":            "question-1-5",
		"???":                             "",
		"日本":                              "",
		"A_B":                             "a-b",
		"Board of Commissioners, District 1 (Unexpired Term Ending 2030), Special Election for": "board-of-commissioners-district-1-unexpired-term-ending-2030",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
		if got := Slug(in); len(got) > maxSlug {
			t.Errorf("Slug(%q) is %d bytes", in, len(got))
		}
	}
}

func TestTitleCase(t *testing.T) {
	for in, want := range map[string]string{
		"JON OSSOFF":           "Jon Ossoff",
		`ROYDEN "ROY" DANIELS`: `Royden "Roy" Daniels`,
		"O'BRIEN-SMITH III":    "O'Brien-Smith III",
		"D'ANGELO JONES, JR.":  "D'Angelo Jones, Jr.",
		"YES":                  "Yes",
		"WON'T":                "Won't",
		"3RD DISTRICT":         "3rd District",
		"Ann McSmith":          "Ann McSmith",
		"JOSÉ NUÑEZ":           "José Nuñez",
		"J.R. EWING":           "J.R. Ewing",
		"MOHAMMAD ALI BHUIYAN": "Mohammad Ali Bhuiyan",
	} {
		if got := TitleCase(in); got != want {
			t.Errorf("TitleCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStripParty(t *testing.T) {
	for _, tc := range []struct{ name, party, want string }{
		{"JON OSSOFF (DEM)", "DEM", "JON OSSOFF"},
		{"KAREN HANDEL (Rep)", "REP", "KAREN HANDEL"},
		{"KAREN HANDEL (REP)", "", "KAREN HANDEL (REP)"},
		{"KAREN HANDEL (REP)", "DEM", "KAREN HANDEL (REP)"},
		{"(REP)", "REP", "(REP)"},
		{"é(REP)", "REP", "é"},
	} {
		if got := StripParty(tc.name, tc.party); got != tc.want {
			t.Errorf("StripParty(%q, %q) = %q, want %q", tc.name, tc.party, got, tc.want)
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"Constitutional Amendment #1<br>Provides for X": "Constitutional Amendment #1 Provides for X",
		"Amendment<BR />1":             "Amendment 1",
		"Boone 4th Ward &amp; DSM Twp": "Boone 4th Ward & DSM Twp",
		"<b>Bold</b> name":             "Bold name",
		"  two   spaces\tand tab ":     "two spaces and tab",
		"a < b":                        "a < b",
		"x <3":                         "x <3",
		"O&#39;Brien":                  "O'Brien",
		"plain":                        "plain",
		"DEM - President  & 1st Dist":  "DEM - President & 1st Dist",
		"<br>":                         "",
	} {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindingKinds(t *testing.T) {
	got := FindingKinds(map[string]int{"rollup-sum": 4, "vote-types-sum": 58, "a-kind": 4})
	if want := "58 vote-types-sum, 4 a-kind, 4 rollup-sum"; got != want {
		t.Errorf("FindingKinds = %q, want %q", got, want)
	}
	if got := FindingKinds(nil); got != "" {
		t.Errorf("no findings: %q", got)
	}
}
