// Package events defines the election domain as versioned event types and
// their wire format.
//
// For most uses, call [Decode] on a submission and [Event.Encode] to get its
// canonical bytes.
//
// # Format
//
// An event is one JSON object:
//
//	{"v":1,"type":"count.reported","id":"<UUIDv7>","election":"ga06-2017-04",
//	 "expected_version":2,"data":{...}}
//
// The "type" names are persisted constants ([TypeCountReported] and so on):
// renaming a Go type never renames a stored event. The shape of "data" depends
// on the type. [Decode] is strict: unknown fields, wrong types, trailing data,
// oversized payloads and values that break the rules of [Event.Validate] are
// refused with an error that names the field.
//
// # Compatibility
//
// Version 1 is the only format version. A change to the shape of an event
// type gets a new "v"; decoders keep accepting the old ones.
package events

import (
	"github.com/google/uuid"
)

// FormatVersion is the current event format version, the "v" field.
const FormatVersion = 1

// Type is the persisted name of an event type.
type Type string

// The event types. These strings are stored in the log: never change them.
const (
	TypeElectionDefined   Type = "election.defined"
	TypeCountReported     Type = "count.reported"
	TypeCountCorrected    Type = "count.corrected"
	TypeCountRetracted    Type = "count.retracted"
	TypeElectionCertified Type = "election.certified"
	TypeRecountOrdered    Type = "recount.ordered"
	TypeKeyRegistered     Type = "key.registered"
	TypeKeyRevoked        Type = "key.revoked"
	// TypeManifestPart continues a manifest too large for one event: it
	// follows its election.defined in the same submission (Manifest.Parts).
	TypeManifestPart Type = "manifest.part"
)

// Types lists every event type in a fixed order.
var Types = []Type{
	TypeElectionDefined, TypeCountReported, TypeCountCorrected,
	TypeCountRetracted, TypeElectionCertified, TypeRecountOrdered,
	TypeKeyRegistered, TypeKeyRevoked, TypeManifestPart,
}

// Event is one submission: who it is for, its identity and its body.
type Event struct {
	ID       uuid.UUID // a UUIDv7 chosen by the submitter; the key for exactly-once
	Election string    // the election's stable ID
	// ExpectedVersion, when set on a count event, is the version of the
	// (unit, contest) the submitter saw; a stale one is rejected.
	ExpectedVersion *uint64
	Body            Body
}

// Type returns the persisted type name of the event's body.
func (e *Event) Type() Type {
	if e.Body == nil {
		return ""
	}
	return e.Body.Type()
}

// Body is the type-specific part of an event: one of *Manifest,
// *CountReport, *Correction, *Retraction, *Certification, *RecountOrder,
// *KeyRegistration, *KeyRevocation, *ManifestPart.
type Body interface {
	Type() Type
	validate(v *validator)
}

// Manifest defines an election: what is contested, by whom, where and how
// votes are cast. It is the body of [TypeElectionDefined] and the first entry
// of an election's log.
type Manifest struct {
	Name string `json:"name"`
	Date string `json:"date"` // YYYY-MM-DD, the election day
	// Authority is the verifier key (C2SP signed-note form,
	// name+hash+base64) of the election's authority, the office that
	// signs this manifest, registers and revokes reporter keys, certifies
	// and orders recounts. A ledger logs a manifest only with one, signed
	// by it.
	Authority string `json:"authority,omitempty"`
	// Parts is how many events carry the manifest: 0 (left out) or 1 for
	// this event alone; N > 1 when this event holds its first units and
	// contests and N-1 manifest.part events follow it, in order, in the
	// same submission, with the rest (SplitManifest, AssembleManifest).
	Parts     int        `json:"parts,omitempty"`
	VoteTypes []VoteType `json:"vote_types"`
	// Units is the reporting hierarchy, parents before children; exactly one
	// unit, the first, has no parent.
	Units    []Unit    `json:"units"`
	Contests []Contest `json:"contests"`
}

// ManifestPart is the body of [TypeManifestPart]: more units and contests
// of the manifest whose election.defined event precedes it. Part is its
// place, from 1; the manifest is the election.defined event's units then
// each part's, and its contests then each part's.
type ManifestPart struct {
	Part     int       `json:"part"`
	Units    []Unit    `json:"units,omitempty"`
	Contests []Contest `json:"contests,omitempty"`
}

// VoteType is one way of casting a ballot ("election-day", "absentee-by-mail").
type VoteType struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Unit is one reporting unit: the state, a county, a precinct.
type Unit struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`             // "state", "county", "precinct", …
	Parent string `json:"parent,omitempty"` // empty only for the root
}

// Contest is one race on the ballot.
type Contest struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	VoteFor int      `json:"vote_for"`
	Choices []Choice `json:"choices"`
	// Units limits the contest to these units' subtrees; empty means the
	// whole election.
	Units []string `json:"units,omitempty"`
	// Kind is empty for a race between choices, or [KindTurnout] for the
	// turnout figures of the units (choices such as "registered" and
	// "ballots-cast"), which are counted and rolled up like votes but have
	// no shares or winner. Its VoteFor is 0.
	Kind string `json:"kind,omitempty"`
}

// KindTurnout marks a [Contest] that carries turnout figures, not votes.
const KindTurnout = "turnout"

// Choice is one candidate or option, with the other names official files
// use for it.
type Choice struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Party   string   `json:"party,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
}

// CountReport carries absolute counts for one unit and one contest. A later
// report for the same unit and contest supersedes it.
type CountReport struct {
	Unit    string  `json:"unit"`
	Contest string  `json:"contest"`
	Counts  []Count `json:"counts"` // sorted by choice, then vote type
	Source  Source  `json:"source"`
}

// Count is the number of votes for one choice by one vote type.
type Count struct {
	Choice   string `json:"choice"`
	VoteType string `json:"vote_type"`
	Votes    int64  `json:"votes"`
}

// Source says where a report's numbers came from: a file (name and SHA-256)
// or an operator, or both.
type Source struct {
	File     string `json:"file,omitempty"`
	SHA256   string `json:"sha256,omitempty"` // lowercase hex of the file's SHA-256
	Version  string `json:"version,omitempty"`
	Operator string `json:"operator,omitempty"`
}

// Correction replaces the counts of the current report for a unit and
// contest, naming that report and why.
type Correction struct {
	Corrects uuid.UUID `json:"corrects"`
	Reason   string    `json:"reason"`
	CountReport
}

// Retraction withdraws the current report for its unit and contest; the
// unit is then unreported for that contest.
type Retraction struct {
	Retracts uuid.UUID `json:"retracts"`
	Reason   string    `json:"reason"`
	Source   Source    `json:"source"`
}

// Certification declares the results official. After it, counts change only
// under a [RecountOrder].
type Certification struct {
	By   string `json:"by"`
	Note string `json:"note,omitempty"`
}

// RecountOrder reopens a certified election for changes.
type RecountOrder struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// KeyRegistration, signed by the election's authority, lets a reporter key
// sign count reports, corrections and retractions for the units of its
// scope and their sub-units, from its log position on.
type KeyRegistration struct {
	Key   string   `json:"key"`   // the reporter's verifier key, name+hash+base64
	Units []string `json:"units"` // its scope: units of the manifest
}

// KeyRevocation, signed by the election's authority, withdraws a reporter
// key from its log position on; what it signed before stays valid.
type KeyRevocation struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

func (*Manifest) Type() Type        { return TypeElectionDefined }
func (*CountReport) Type() Type     { return TypeCountReported }
func (*Correction) Type() Type      { return TypeCountCorrected }
func (*Retraction) Type() Type      { return TypeCountRetracted }
func (*Certification) Type() Type   { return TypeElectionCertified }
func (*RecountOrder) Type() Type    { return TypeRecountOrdered }
func (*KeyRegistration) Type() Type { return TypeKeyRegistered }
func (*KeyRevocation) Type() Type   { return TypeKeyRevoked }
func (*ManifestPart) Type() Type    { return TypeManifestPart }

// newBody returns an empty body for a type name, or nil for an unknown one.
func newBody(t Type) Body {
	switch t {
	case TypeElectionDefined:
		return new(Manifest)
	case TypeCountReported:
		return new(CountReport)
	case TypeCountCorrected:
		return new(Correction)
	case TypeCountRetracted:
		return new(Retraction)
	case TypeElectionCertified:
		return new(Certification)
	case TypeRecountOrdered:
		return new(RecountOrder)
	case TypeKeyRegistered:
		return new(KeyRegistration)
	case TypeKeyRevoked:
		return new(KeyRevocation)
	case TypeManifestPart:
		return new(ManifestPart)
	}
	return nil
}

// Counts returns the count report an event carries (a report or a
// correction), or nil.
func (e *Event) Counts() *CountReport {
	switch b := e.Body.(type) {
	case *CountReport:
		return b
	case *Correction:
		return &b.CountReport
	}
	return nil
}
