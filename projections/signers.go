package projections

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
)

// Who may sign what. The election's authority is the verifier key its
// manifest names; it signs the manifest, registers and revokes reporter
// keys, certifies and orders recounts, and may also report counts for any
// unit. A reporter key, registered by the authority for a scope of units,
// signs count reports, corrections and retractions for the units of its
// scope and their sub-units, from its registration to its revocation.
// Registrations and revocations are entries of the log, so the verdicts
// follow from the entries alone.

// Rejection reasons about signatures and roles start with these, so that
// they can be told apart in a stored entry.
const (
	// SignaturePrefix starts the reason of an entry whose submission's
	// signature does not verify.
	SignaturePrefix = "bad signature:"
	// UnauthorizedPrefix starts the reason of an entry whose signer may not
	// make it: unknown or revoked key, wrong role, outside its scope.
	UnauthorizedPrefix = "not authorized:"
)

// reporter is a registered reporter key.
type reporter struct {
	name      string
	units     []int  // its scope, unit indexes in registration order
	at        uint64 // entry that registered it
	revoked   bool
	revokedAt uint64 // entry that revoked it, if revoked
}

// reporterCell is a reporter's stored form.
type reporterCell struct {
	Units     []string `json:"units"`
	At        uint64   `json:"at"`
	RevokedAt *uint64  `json:"revoked_at,omitempty"`
}

// reporterPrefix starts a reporter's cell key, followed by its verifier
// key: it sorts after the node cells ("n"), which Load needs.
const reporterPrefix = "r"

// Signers is a read-only view of who may sign for an election as of a
// point in its log: safe to use from any goroutine while the projection
// goes on.
type Signers struct {
	e         *Election // only its manifest and unit tree, which never change
	authority string
	reporters map[string]reporter
}

// Signers returns the current view. The projection copies its reporters
// before it next changes them, so the view stays as it was.
func (e *Election) Signers() *Signers {
	e.reportersShared = true
	return &Signers{e: e, authority: e.manifest.Authority, reporters: e.reporters}
}

// Authority returns the election's authority key, "" if its manifest
// names none.
func (s *Signers) Authority() string { return s.authority }

// Reporter returns the scope of a registered reporter key, and whether it
// is registered and not revoked.
func (s *Signers) Reporter(key string) (units []string, ok bool) {
	r, found := s.reporters[key]
	if !found || r.revoked {
		return nil, false
	}
	return s.e.unitIDs(r.units), true
}

// Authorize decides whether signer may make ev; nil means it may. unitOf
// gives the unit of the report a retraction names (false if it is not a
// current report: the election's rules then reject the retraction).
func (s *Signers) Authorize(ev *events.Event, signer string, unitOf func(uuid.UUID) (string, bool)) *Rejection {
	name := events.KeyName(signer)
	if s.authority == "" {
		return ruleErr("%s election %q names no authority in its manifest, so no key may sign for it", UnauthorizedPrefix, s.e.id)
	}
	if signer == s.authority {
		return nil
	}
	var unit string
	switch b := ev.Body.(type) {
	case *events.CountReport:
		unit = b.Unit
	case *events.Correction:
		unit = b.Unit
	case *events.Retraction:
		u, ok := unitOf(b.Retracts)
		if !ok {
			unit = ""
		} else {
			unit = u
		}
	default:
		return ruleErr("%s key %s may not sign %s events: only the election's authority (%s) may", UnauthorizedPrefix, name, ev.Type(), events.KeyName(s.authority))
	}
	r, ok := s.reporters[signer]
	switch {
	case !ok:
		return ruleErr("%s key %s is not registered for election %q (the authority registers reporter keys with key.registered)", UnauthorizedPrefix, keyLabel(signer), s.e.id)
	case r.revoked:
		return ruleErr("%s key %s was revoked at entry %d", UnauthorizedPrefix, keyLabel(signer), r.revokedAt)
	case unit == "":
		return nil // a retraction of no current report: the rules reject it
	}
	ui, ok := s.e.unitIdx[unit]
	if !ok {
		return nil // an unknown unit: the rules reject it
	}
	for u := ui; u >= 0; u = s.e.units[u].parent {
		if slices.Contains(r.units, u) {
			return nil
		}
	}
	return ruleErr("%s key %s may report for %s and their sub-units, not for unit %q", UnauthorizedPrefix, keyLabel(signer), strings.Join(s.e.unitIDs(r.units), ", "), unit)
}

// keyLabel names a key in a reason: its name and hash, without the public
// key itself.
func keyLabel(vkey string) string {
	name, rest, _ := strings.Cut(vkey, "+")
	hash, _, _ := strings.Cut(rest, "+")
	return name + "+" + hash
}

func (e *Election) unitIDs(units []int) []string {
	out := make([]string, len(units))
	for i, u := range units {
		out[i] = e.units[u].id
	}
	return out
}

// Authorize is [Signers.Authorize] on the projection as it stands.
func (e *Election) Authorize(ev *events.Event, signer string) *Rejection {
	s := Signers{e: e, authority: e.manifest.Authority, reporters: e.reporters}
	return s.Authorize(ev, signer, func(id uuid.UUID) (string, bool) {
		unit, _, ok := e.ReportOf(id)
		return unit, ok
	})
}

// checkRegistration applies the election's rules to a key registration.
func (e *Election) checkRegistration(b *events.KeyRegistration) *Rejection {
	for _, u := range b.Units {
		if _, ok := e.unitIdx[u]; !ok {
			return refErr("unit %q is not in election %q", u, e.id)
		}
	}
	name := events.KeyName(b.Key)
	switch r, ok := e.reporters[b.Key]; {
	case b.Key == e.manifest.Authority:
		return ruleErr("key %s is the election's authority, which needs no registration", keyLabel(b.Key))
	case ok && r.revoked:
		return ruleErr("key %s was revoked at entry %d; a revoked key is not registered again: register a new key", keyLabel(b.Key), r.revokedAt)
	case ok:
		return ruleErr("key %s is already registered (entry %d); to change its scope, revoke it and register a new key", keyLabel(b.Key), r.at)
	case name == events.KeyName(e.manifest.Authority):
		return ruleErr("key name %q is the authority's; a reporter key needs a name of its own", name)
	}
	for k, r := range e.reporters {
		if r.name == name {
			return ruleErr("key name %q is already used by key %s (entry %d); a reporter key needs a name of its own", name, keyLabel(k), r.at)
		}
	}
	return nil
}

// checkRevocation applies the election's rules to a key revocation.
func (e *Election) checkRevocation(b *events.KeyRevocation) *Rejection {
	switch r, ok := e.reporters[b.Key]; {
	case !ok:
		return ruleErr("key %s is not a registered reporter key of election %q", keyLabel(b.Key), e.id)
	case r.revoked:
		return ruleErr("key %s is already revoked (entry %d)", keyLabel(b.Key), r.revokedAt)
	}
	return nil
}

// applyKey folds an accepted registration or revocation in.
func (e *Election) applyKey(index uint64, body events.Body) error {
	if e.reportersShared || e.reporters == nil {
		e.reporters = maps.Clone(e.reporters)
		if e.reporters == nil {
			e.reporters = map[string]reporter{}
		}
		e.reportersShared = false
	}
	switch b := body.(type) {
	case *events.KeyRegistration:
		units := make([]int, len(b.Units))
		for i, u := range b.Units {
			ui, ok := e.unitIdx[u]
			if !ok {
				return fmt.Errorf("projection of %s: entry %d registers a key for unknown unit %q", e.id, index, u)
			}
			units[i] = ui
		}
		e.reporters[b.Key] = reporter{name: events.KeyName(b.Key), units: units, at: index}
		e.dirtyKeys = append(e.dirtyKeys, b.Key)
	case *events.KeyRevocation:
		r, ok := e.reporters[b.Key]
		if !ok {
			return fmt.Errorf("projection of %s: entry %d revokes an unregistered key", e.id, index)
		}
		r.revoked, r.revokedAt = true, index
		e.reporters[b.Key] = r
		e.dirtyKeys = append(e.dirtyKeys, b.Key)
	}
	return nil
}

// encodeReporter is a reporter's cell value.
func (e *Election) encodeReporter(r reporter) []byte {
	c := reporterCell{Units: e.unitIDs(r.units), At: r.at}
	if r.revoked {
		c.RevokedAt = &r.revokedAt
	}
	b, _ := json.Marshal(c)
	return b
}

// loadReporter restores a reporter from its cell.
func (e *Election) loadReporter(key string, value []byte) error {
	var c reporterCell
	if err := json.Unmarshal(value, &c); err != nil {
		return fmt.Errorf("reporter cell %q: %w", key, err)
	}
	r := reporter{name: events.KeyName(key), at: c.At}
	for _, u := range c.Units {
		ui, ok := e.unitIdx[u]
		if !ok {
			return fmt.Errorf("reporter cell %q names unknown unit %q", key, u)
		}
		r.units = append(r.units, ui)
	}
	if c.RevokedAt != nil {
		r.revoked, r.revokedAt = true, *c.RevokedAt
	}
	if e.reporters == nil {
		e.reporters = map[string]reporter{}
	}
	e.reporters[key] = r
	return nil
}

// sortedReporters returns the reporter keys in byte order, for cells and
// snapshots.
func (e *Election) sortedReporters() []string {
	return slices.Sorted(maps.Keys(e.reporters))
}

// Decide is the state machine's verdict on an event of a submission signed
// by signer ("" when the submission's signature does not verify): nil to
// accept, or the rejection. The signature and the signer's right to make
// the event come first, then the election's rules (Check).
func (e *Election) Decide(ev *events.Event, signer string) *Rejection {
	if signer == "" {
		return ruleErr("%s the submission's signature does not verify with the key it names", SignaturePrefix)
	}
	if rj := e.Authorize(ev, signer); rj != nil {
		return rj
	}
	return e.Check(ev)
}

// CheckManifestEntry checks that the entry that defines an election (its
// entry 0) is signed by the authority its manifest names.
func CheckManifestEntry(m *events.Manifest, signer string) error {
	switch {
	case m.Authority == "":
		return fmt.Errorf("the manifest names no authority")
	case signer != m.Authority:
		return fmt.Errorf("the manifest is not signed by the authority it names (%s)", keyLabel(m.Authority))
	}
	return nil
}

// ReporterInfo is one registered reporter key as a Signers view holds it.
type ReporterInfo struct {
	Key        string
	Units      []string
	Registered uint64  // the entry that registered it
	Revoked    *uint64 // the entry that revoked it, if any
}

// Reporters lists the registered reporter keys, revoked ones included, in
// the order of their registration entries.
func (s *Signers) Reporters() []ReporterInfo {
	out := make([]ReporterInfo, 0, len(s.reporters))
	for k, r := range s.reporters {
		ri := ReporterInfo{Key: k, Units: s.e.unitIDs(r.units), Registered: r.at}
		if r.revoked {
			at := r.revokedAt
			ri.Revoked = &at
		}
		out = append(out, ri)
	}
	slices.SortFunc(out, func(a, b ReporterInfo) int { return cmp.Compare(a.Registered, b.Registered) })
	return out
}
