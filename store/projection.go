package store

// PutCell stores one projection cell of an election. Cells belong to package
// projections, which alone knows their keys and encoding.
func (b *Batch) PutCell(election string, key string, value []byte) {
	b.set(append(electionPrefix(tagProjection, election), key...), value)
}

// DeleteCells removes every projection cell of an election, for a rebuild.
func (b *Batch) DeleteCells(election string) {
	p := electionPrefix(tagProjection, election)
	if err := b.b.DeleteRange(p, prefixEnd(p), nil); err != nil {
		panic("store: batch delete range: " + err.Error())
	}
}

// Cells calls fn for every projection cell of an election, in key order.
func (d *DB) Cells(election string, fn func(key string, value []byte) error) error {
	p := electionPrefix(tagProjection, election)
	return d.scan(p, prefixEnd(p), func(k, v []byte) error {
		return fn(string(k[len(p):]), v)
	})
}
