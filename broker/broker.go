// Package broker connects the ledger to NATS JetStream: it starts the
// embedded nats-server when no external one is configured, keeps the
// submission stream configured, and publishes submissions.
//
// # Guarantees
//
// The embedded server syncs every write to disk before acknowledging it
// (sync_interval: always), listens on loopback only, and accepts no
// anonymous client: the ledger connects in-process, and the listener
// serves monitors that authenticate with the NKey in MonitorKeyFile and
// may only read the change feed ([MonitorPermissions]). Only the ledger
// publishes to the submission and feed subjects or calls the JetStream
// API. The stream refuses message deletion and purges: it is the order of
// record that replicas and rebuilds replay. Every message is one signed
// submission and carries the submission's ID as Nats-Msg-Id, so JetStream
// drops duplicates within its window; the ledger's event-ID index drops
// the rest.
//
// On the embedded server, Publish refuses submissions while the server's
// disk has less than Config.MinFree free, and the broker reloads JetStream
// when a stream holds a write error and the disk has space again
// (space.go).
package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/election-audit/ledger/events"
)

// Defaults.
const (
	DefaultStream          = "LEDGER"
	DefaultSubjectPrefix   = "ledger"
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultListen          = "127.0.0.1:4222"
	// maxHeaderBytes is room for the headers (Nats-Msg-Id).
	maxHeaderBytes = 4096
	// MaxPayload is the largest message the ledger publishes: a whole
	// submission, with room for headers. The embedded server allows it; an
	// external one must (max_payload in its configuration).
	MaxPayload = events.MaxSubmissionSize + 64<<10
)

// Config configures the connection. Zero values take the defaults.
type Config struct {
	// URL of an external NATS server or cluster. Empty starts an embedded
	// server storing JetStream data under Dir.
	URL string
	// Creds is the NATS credentials file (JWT and NKey seed) to connect to
	// URL with; empty for none.
	Creds string
	// Dir is the embedded server's storage directory.
	Dir string
	// Listen is the embedded server's client address for monitors,
	// loopback only; port 0 picks a free port, "-" listens nowhere (the
	// ledger itself always connects in-process).
	Listen string
	// MonitorKeyFile is the NKey seed of the embedded server's monitor
	// user, created (mode 0600) if missing; default Dir/nats-monitor.nk.
	MonitorKeyFile string
	// FeedStream is the change feed's stream, the one stream monitors may
	// read (default DefaultFeedStream).
	FeedStream      string
	Stream          string
	SubjectPrefix   string
	Replicas        int // stream replicas; 3 in a cluster
	DuplicateWindow time.Duration
	// MinFree is the space, in bytes, the embedded server's disk keeps
	// free: below it Publish refuses submissions with a *NoSpaceError.
	// 0 means DefaultMinFree; negative, no check.
	MinFree int64
	Logger  *slog.Logger
}

func (c *Config) fill() error {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MinFree == 0 {
		c.MinFree = DefaultMinFree
	}
	if c.MonitorKeyFile == "" && c.Dir != "" {
		c.MonitorKeyFile = filepath.Join(c.Dir, MonitorKeyFile)
	}
	if c.FeedStream == "" {
		c.FeedStream = DefaultFeedStream
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.URL == "" && c.Dir == "" {
		return errors.New("broker: an embedded server needs a storage directory")
	}
	return nil
}

// Broker is a connection to JetStream with the submission stream ready.
type Broker struct {
	cfg  Config
	srv  *server.Server // nil with an external server
	auth embeddedAuth   // the embedded server's users
	nc   *nats.Conn
	js   jetstream.JetStream
	rec  recovery // of the embedded stream after a write error
}

// Open starts the embedded server (unless cfg.URL is set), connects, and
// creates or updates the stream.
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, rec: recovery{restarted: make(chan struct{})}}
	var err error
	if cfg.URL == "" {
		if b.auth.monitorKey, err = loadOrCreateMonitorKey(cfg.MonitorKeyFile); err != nil {
			return nil, err
		}
		b.auth.password = rand.Text()
		if b.srv, err = startEmbedded(cfg, b.auth); err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.srv), nats.UserInfo(ledgerUser, b.auth.password),
			nats.CustomInboxPrefix(LedgerInboxPrefix), nats.Name("ledger"), nats.MaxReconnects(-1))
	} else {
		opts := []nats.Option{nats.CustomInboxPrefix(LedgerInboxPrefix), nats.Name("ledger"), nats.MaxReconnects(-1)}
		if cfg.Creds != "" {
			opts = append(opts, nats.UserCredentials(cfg.Creds))
		}
		b.nc, err = nats.Connect(cfg.URL, opts...)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("couldn't connect to NATS %s: %w", b.where(), err)
	}
	if mp := b.nc.MaxPayload(); mp < MaxPayload {
		b.Close()
		return nil, fmt.Errorf("NATS %s takes messages of at most %d bytes (its max_payload), and a signed submission may be %d: set max_payload: %d in the server's configuration, as deploy/nats.conf does", b.where(), mp, MaxPayload, MaxPayload)
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.Close()
		return nil, fmt.Errorf("couldn't use JetStream on %s: %w", b.where(), err)
	}
	if err := b.ensureStream(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// ensureStream creates the stream if it is missing. An existing stream is
// updated only on the embedded server, which this ledger owns; on an
// external server it is shared with other replicas and kept as it is, with
// a warning for each setting that differs from this ledger's flags.
func (b *Broker) ensureStream(ctx context.Context) error {
	want := b.StreamConfig()
	s, err := b.js.Stream(ctx, want.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if _, err := b.js.CreateStream(ctx, want); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("couldn't create stream %s on %s (is JetStream enabled, at v2.12 or later?): %w", want.Name, b.where(), err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("couldn't read stream %s on %s (is JetStream enabled?): %w", want.Name, b.where(), err)
	}
	have := s.CachedInfo().Config
	if b.srv != nil {
		if _, err := b.js.UpdateStream(ctx, want); err != nil {
			return fmt.Errorf("couldn't update stream %s: %w", want.Name, err)
		}
		return nil
	}
	if len(have.Subjects) != 1 || have.Subjects[0] != want.Subjects[0] {
		return fmt.Errorf("stream %s on %s takes subjects %v, not %v: use --stream and --subject-prefix of the ledgers that made it", want.Name, b.where(), have.Subjects, want.Subjects)
	}
	for _, d := range []struct {
		name       string
		have, want any
	}{
		{"duplicate window", have.Duplicates, want.Duplicates},
		{"replicas", have.Replicas, want.Replicas},
		{"max message size", have.MaxMsgSize, want.MaxMsgSize},
		{"deny delete", have.DenyDelete, want.DenyDelete},
		{"deny purge", have.DenyPurge, want.DenyPurge},
		{"storage", have.Storage, want.Storage},
	} {
		if d.have != d.want {
			b.cfg.Logger.Warn("shared stream keeps its own setting", "stream", want.Name, "setting", d.name, "stream_has", d.have, "flag_asks", d.want)
		}
	}
	return nil
}

func (b *Broker) where() string {
	if b.cfg.URL != "" {
		return Redacted(b.cfg.URL)
	}
	return "embedded server"
}

// Redacted returns a NATS URL (or a comma-separated list of them) with
// any password or token replaced by "xxxxx", for logs and messages.
func Redacted(urls string) string {
	list := strings.Split(urls, ",")
	for i, s := range list {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); ok {
			list[i] = u.Redacted()
		} else {
			u.User = url.User("xxxxx") // nats://TOKEN@host
			list[i] = u.String()
		}
	}
	return strings.Join(list, ",")
}

// StreamConfig is the submission stream's configuration.
func (b *Broker) StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        b.cfg.Stream,
		Description: "election ledger submissions, in the order of record",
		Subjects:    []string{b.cfg.SubjectPrefix + ".submit.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    b.cfg.Replicas,
		Duplicates:  b.cfg.DuplicateWindow,
		MaxMsgSize:  events.MaxSubmissionSize + maxHeaderBytes, // JetStream counts headers too
		DenyDelete:  true,
		DenyPurge:   true,
	}
}

func startEmbedded(cfg Config, auth embeddedAuth) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "ledger-embedded",
		JetStream:          true,
		StoreDir:           cfg.Dir,
		SyncAlways:         true,
		MaxPayload:         MaxPayload, // as deploy/nats.conf
		NoSigs:             true,
		NoLog:              true,
		JetStreamMaxMemory: embeddedMaxMemory,
	}
	auth.apply(opts, cfg)
	if cfg.Listen == "-" {
		opts.DontListen = true
	} else if err := listenOn(opts, cfg.Listen); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("couldn't configure embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start on %s (is the port in use? pass --nats-listen 127.0.0.1:0)", cfg.Listen)
	}
	return srv, nil
}

// listenOn sets the client address of the embedded server's options.
func listenOn(opts *server.Options, listen string) error {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--nats-listen %q is not host:port (or \"-\" for none): %w", listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--nats-listen %q: the embedded server listens on loopback only (127.0.0.1 or ::1)", listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("--nats-listen %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else {
		// The embedded server would wait 30 s for a port in use: try it
		// first, and say so at once.
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("--nats-listen %s: %w (is another ledger or NATS server using it? pick another port, 0 for any free one, or \"-\" for none)", listen, err)
		}
		ln.Close()
	}
	opts.Host, opts.Port = host, port
	return nil
}

// ClientURL returns the URL with which another ledger in this process
// can use the same server with the ledger's rights: with the embedded
// server it carries the ledger's in-memory password, so it must not be
// printed, logged or handed out of the process ("" when the embedded
// server listens nowhere). Monitors use [Broker.MonitorURL] instead.
func (b *Broker) ClientURL() string {
	if b.srv != nil {
		if b.cfg.Listen == "-" {
			return ""
		}
		return b.auth.ledgerURL(b.srv)
	}
	return b.cfg.URL
}

// MonitorURL returns the embedded server's client URL, without
// credentials, for monitors that authenticate with [Broker.MonitorKeyFile];
// "" with an external server or when the embedded server listens nowhere.
func (b *Broker) MonitorURL() string {
	if b.srv == nil || b.cfg.Listen == "-" {
		return ""
	}
	return b.srv.ClientURL()
}

// MonitorKeyFile returns the file holding the NKey seed of the embedded
// server's monitor user, "" with an external server.
func (b *Broker) MonitorKeyFile() string {
	if b.srv == nil {
		return ""
	}
	return b.cfg.MonitorKeyFile
}

// JetStream returns the JetStream context.
func (b *Broker) JetStream() jetstream.JetStream { return b.js }

// Stream returns the submission stream's name.
func (b *Broker) Stream() string { return b.cfg.Stream }

// SubmitSubject returns the subject submissions for an election go to.
func (b *Broker) SubmitSubject(election string) string {
	return b.cfg.SubjectPrefix + ".submit." + election
}

// SubmitFilter is the subject filter of all submissions.
func (b *Broker) SubmitFilter() string { return b.cfg.SubjectPrefix + ".submit.>" }

// Close drains the connection and stops the embedded server.
func (b *Broker) Close() {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// Message is one signed submission to publish.
type Message struct {
	Election string
	ID       string // the submission's ID, sent as Nats-Msg-Id
	Data     []byte // the signed submission
}

// Publish publishes one submission as one stream message and returns its
// stream sequence (for a duplicate within the window, the original's).
//
// On the embedded server it refuses, with a *NoSpaceError, while the
// server's disk has less than Config.MinFree free, and reloads JetStream
// first if the stream has a write error (see Check). An error is never a
// context deadline: a message that got no acknowledgement in time was not
// published, as far as the caller can tell.
func (b *Broker) Publish(ctx context.Context, m Message) (uint64, error) {
	if err := b.checkSpace(); err != nil {
		return 0, err
	}
	if b.srv != nil && b.rec.suspect.Load() {
		if err := b.recover(); err != nil {
			return 0, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	ack, err := b.js.PublishMsg(pctx, b.natsMsg(m), jetstream.WithMsgID(m.ID))
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		// %v: the caller takes a deadline to mean "published, not yet
		// logged", and this is not that.
		err = fmt.Errorf("no acknowledgement within %v (%v)", publishTimeout, err)
	}
	if err != nil {
		return 0, b.publishFailed(fmt.Errorf("couldn't publish submission %s to %s: %w", m.ID, b.cfg.Stream, err))
	}
	return ack.Sequence, nil
}

func (b *Broker) natsMsg(m Message) *nats.Msg {
	msg := nats.NewMsg(b.SubmitSubject(m.Election))
	msg.Header.Set(jetstream.MsgIDHeader, m.ID)
	msg.Data = m.Data
	return msg
}
