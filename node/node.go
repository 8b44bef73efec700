// Package node assembles a running ledger from a data directory: the
// signing key, the Pebble database, the broker (embedded nats-server or an
// external one), the state machine and the HTTP API.
//
// For most uses, call [Open] and then [Node.Close] when done.
//
// # Data directory
//
//	<data>/ledger.key   the checkpoint signing key (mode 0600)
//	<data>/ledger.pub   its verifier key
//	<data>/pebble/      the ledger database
//	<data>/jetstream/   the embedded server's stream storage
//	<data>/nats-monitor.nk   the embedded server's key for monitors (mode 0600)
//	<data>/authorities   optional: verifier keys of the election authorities
//	                     this ledger accepts, one per line (# comments)
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/store"
)

// Defaults.
const (
	DefaultName = "ledger.local"
	DefaultHTTP = "127.0.0.1:8080"
)

// Config configures a node. Zero values take the defaults.
type Config struct {
	DataDir string
	// HTTP is the API's listen address; "" means DefaultHTTP, "-" none.
	HTTP string
	// NATSURL selects an external NATS; empty starts the embedded server.
	NATSURL string
	// NATSCreds is the credentials file for the external NATS.
	NATSCreds string
	// ReadToken, if set, is the bearer token reads of the HTTP API need.
	ReadToken string
	// NATSListen is the embedded server's client address (loopback) for
	// monitors, who authenticate with <data>/nats-monitor.nk; "-" none.
	NATSListen string
	// StreamReplicas is the stream's replica count; 3 in a cluster.
	StreamReplicas int
	Name           string // ledger name: the ledger key's name and the prefix of checkpoint origins (and log key names)
	// Authorities are the verifier keys of the election authorities whose
	// manifests the ledger logs, beside those in <data>/authorities.
	Authorities     []string
	DuplicateWindow time.Duration
	// NoFeed turns off the change feed on NATS (the LEDGER_FEED stream);
	// the server-sent events of the HTTP API are unaffected.
	NoFeed   bool
	MaxBatch int
	Logger   *slog.Logger

	// HTTPLimits bound what HTTP clients can hold: timeouts, connections,
	// change streams and the memory of request bodies (docs/security.md).
	// Zero fields take api's defaults; MaxConns is lowered to leave
	// api.FDReserve file descriptors free.
	HTTPLimits api.Limits
}

// Node is a running ledger.
type Node struct {
	Ledger      *ledger.Ledger
	Broker      *broker.Broker
	DB          *store.DB
	VerifierKey string   // the ledger key (DATA/ledger.pub, GET /v1/key); each log's key derives from it (checkpoint.LogVerifier)
	Authorities []string // the election authorities accepted
	Handler     http.Handler
	Registry    *prometheus.Registry

	httpSrv  *http.Server
	httpAddr string
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	runErr   chan error
}

// prepareDataDir creates the data directory (mode 0700) or checks the one
// there: a directory that others may write to is refused, since whoever
// can write there can replace the log, the key or the stream. It returns
// the topmost directory it created ("" if dir was there), which a failed
// Open removes.
func prepareDataDir(dir string) (created string, err error) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		created = d
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("couldn't create data directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return created, fmt.Errorf("couldn't check data directory: %w", err)
	}
	if !fi.IsDir() {
		return created, fmt.Errorf("data directory %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return created, fmt.Errorf("data directory %s is writable by group or others (mode %v): whoever can write there can replace the log or the signing key; run chmod go-w %s (or chmod 700 %s)", dir, perm, dir, dir)
	}
	return created, nil
}

// emptyDir reports whether dir is a directory with nothing in it.
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && errors.Is(err, io.EOF)
}

// checkConfig checks, before anything is created, what can be checked
// without the data directory: the HTTP listen address, the authorities'
// keys given, and the form of the NATS URLs and credentials file. A
// mistyped flag then leaves no new data directory or key behind.
func checkConfig(ctx context.Context, cfg Config) error {
	if cfg.HTTP != "-" {
		host, port, err := net.SplitHostPort(cfg.HTTP)
		if err == nil {
			_, err = net.DefaultResolver.LookupPort(ctx, "tcp", port)
		}
		if err == nil && host != "" && net.ParseIP(host) == nil {
			_, err = net.DefaultResolver.LookupHost(ctx, host)
		}
		if err != nil {
			return fmt.Errorf("HTTP listen address %q: %w (use --http HOST:PORT, for example 127.0.0.1:8080, or port 0 for any free port)", cfg.HTTP, err)
		}
	}
	for _, k := range cfg.Authorities {
		if _, err := events.ParseKey(strings.TrimSpace(k)); err != nil {
			return fmt.Errorf("authority (--authority) %q: %w", k, err)
		}
	}
	if cfg.NATSURL != "" {
		if err := checkNATSURLs(cfg.NATSURL); err != nil {
			return err
		}
	}
	if cfg.NATSCreds != "" {
		if cfg.NATSURL == "" {
			return errors.New("NATS credentials (--nats-creds) are for an external NATS: give its URL with --nats, or leave them out to start the embedded server")
		}
		f, err := os.Open(cfg.NATSCreds)
		if err != nil {
			return fmt.Errorf("NATS credentials (--nats-creds): %w", err)
		}
		f.Close()
	}
	return nil
}

// checkNATSURLs checks the form of a NATS URL or comma-separated list of
// them, as the NATS client reads them: [scheme://][user[:password]@]host[:port],
// the scheme nats, tls, ws or wss (websocket and plain not mixed).
func checkNATSURLs(urls string) error {
	ws := -1
	n := 0
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n++
		full := s
		if !strings.Contains(full, "://") {
			full = "nats://" + full
		}
		bad := func(why string) error {
			return fmt.Errorf("NATS URL %q (--nats): %s (for example nats://nats1:4222, or a comma-separated list)", broker.Redacted(s), why)
		}
		u, err := url.Parse(full)
		if err != nil {
			// url's message repeats the URL, password included.
			return bad("not a URL")
		}
		isWS := 0
		switch u.Scheme {
		case "nats", "tls":
		case "ws", "wss":
			isWS = 1
		default:
			return bad("the scheme must be nats, tls, ws or wss")
		}
		if ws >= 0 && ws != isWS {
			return bad("websocket (ws, wss) and plain (nats, tls) URLs cannot be mixed")
		}
		ws = isWS
		if u.Hostname() == "" {
			return bad("no host")
		}
		if p := u.Port(); p != "" {
			if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 65535 {
				return bad("the port must be from 1 to 65535")
			}
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return bad("a NATS URL has no path or query")
		}
	}
	if n == 0 {
		return fmt.Errorf("NATS URL %q (--nats): no URL", urls)
	}
	return nil
}

// DataInUseError is returned by Open when another process (a ledger
// serve, rebuild, …), or another node of this one, has the data
// directory's database open. It wraps store's error, which matches
// [store.ErrInUse].
type DataInUseError struct {
	Dir string // the data directory
	Err error
}

func (e *DataInUseError) Error() string {
	return fmt.Sprintf("another ledger process (serve, rebuild, …) is using %s: stop it, or use another --data", e.Dir)
}

func (e *DataInUseError) Unwrap() error { return e.Err }

// Loopback reports whether an HTTP listen address is on this machine only
// (127.0.0.0/8, ::1, localhost).
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Open opens the data directory, starts the state machine and, unless
// cfg.HTTP is "-", the HTTP API.
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node: no data directory given")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.HTTP == "" {
		cfg.HTTP = DefaultHTTP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkConfig(ctx, cfg); err != nil {
		return nil, err
	}
	// The HTTP address is taken before the data directory is touched: a
	// port in use is the most common failed start.
	var ln net.Listener
	if cfg.HTTP != "-" {
		if ln, err = net.Listen("tcp", cfg.HTTP); err != nil {
			return nil, fmt.Errorf("couldn't listen on %s (use --http to pick another address): %w", cfg.HTTP, err)
		}
		defer func() {
			if err != nil {
				ln.Close()
			}
		}()
	}
	wasEmpty := emptyDir(cfg.DataDir)
	created, err := prepareDataDir(cfg.DataDir)
	// Runs after the deferred Close below: a failed Open leaves nothing of
	// a data directory it made (key, database, stream), nor anything in
	// one that was there but empty.
	defer func() {
		switch {
		case err == nil:
		case created != "":
			if rerr := os.RemoveAll(created); rerr != nil {
				cfg.Logger.Warn("couldn't remove the data directory this failed start created", "dir", created, "err", rerr)
			}
		case wasEmpty:
			ents, _ := os.ReadDir(cfg.DataDir)
			for _, e := range ents {
				if rerr := os.RemoveAll(filepath.Join(cfg.DataDir, e.Name())); rerr != nil {
					cfg.Logger.Warn("couldn't remove what this failed start made in the data directory", "path", filepath.Join(cfg.DataDir, e.Name()), "err", rerr)
				}
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	if !Loopback(cfg.HTTP) && cfg.HTTP != "-" {
		cfg.Logger.Warn("the HTTP API listens beyond this machine: put it behind a proxy with TLS and per-client limits (docs/security.md)", "http", cfg.HTTP)
	}
	n := &Node{Registry: prometheus.NewRegistry(), runErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			n.Close(context.Background())
		}
	}()
	n.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	key, err := checkpoint.LoadOrCreateKey(cfg.DataDir, cfg.Name)
	if err != nil {
		return nil, err
	}
	vkey := key.VerifierKey()
	n.VerifierKey = vkey
	authorities, err := Authorities(cfg.DataDir, cfg.Authorities)
	if err != nil {
		return nil, err
	}
	n.Authorities = authorities
	if len(authorities) == 0 {
		cfg.Logger.Warn("no election authority is accepted, so no election can be defined: name one with --authority VKEY (or in " + filepath.Join(cfg.DataDir, AuthoritiesFile) + ")")
	}
	if n.DB, err = store.Open(filepath.Join(cfg.DataDir, "pebble")); err != nil {
		if errors.Is(err, store.ErrInUse) {
			return nil, &DataInUseError{Dir: cfg.DataDir, Err: err}
		}
		return nil, err
	}
	n.Broker, err = broker.Open(ctx, broker.Config{
		URL: cfg.NATSURL, Creds: cfg.NATSCreds, Dir: filepath.Join(cfg.DataDir, "jetstream"), Listen: cfg.NATSListen,
		MonitorKeyFile: filepath.Join(cfg.DataDir, broker.MonitorKeyFile), FeedStream: feed.DefaultStream,
		DuplicateWindow: cfg.DuplicateWindow, Replicas: cfg.StreamReplicas, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	n.Ledger, err = ledger.Open(ledger.Config{
		DB: n.DB, Broker: n.Broker, Signer: key, MaxBatch: cfg.MaxBatch, Authorities: authorities,
		Logger: cfg.Logger, Registerer: n.Registry,
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := n.Ledger.Run(runCtx)
		if err != nil {
			cfg.Logger.Error("ledger stopped", "err", err)
		}
		n.runErr <- err
	}()
	if !cfg.NoFeed {
		pub, err := feed.NewPublisher(feed.PublisherConfig{
			JetStream: n.Broker.JetStream(), Source: n.Ledger, DB: n.DB, Name: cfg.Name,
			Replicas: cfg.StreamReplicas, Logger: cfg.Logger,
			Elections: func() []string {
				var ids []string
				for _, e := range n.Ledger.Elections() {
					ids = append(ids, e.ID)
				}
				return ids
			},
		})
		if err != nil {
			return nil, err
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := pub.Run(runCtx); err != nil {
				cfg.Logger.Error("change feed stopped", "err", err)
			}
		}()
	}
	lim := cfg.HTTPLimits.WithDefaults()
	n.Handler = api.New(api.Config{Ledger: n.Ledger, VerifierKey: vkey, Gatherer: n.Registry, Logger: cfg.Logger, Limits: lim, ReadToken: cfg.ReadToken})
	if ln != nil {
		n.httpAddr = ln.Addr().String()
		// Requests' contexts end when shutdown starts, so that change
		// streams (server-sent events) end instead of holding it up.
		httpCtx, httpCancel := context.WithCancel(context.Background())
		want := cfg.HTTPLimits.MaxConns
		if want <= 0 {
			want = api.DefaultMaxConns
		}
		if lim.MaxConns < want {
			cfg.Logger.Warn("HTTP connection cap lowered to leave file descriptors free: raise the open-files limit (ulimit -n)",
				"max_conns", lim.MaxConns, "wanted", want, "fd_reserve", api.FDReserve)
		}
		// At the cap, a new connection closes the quietest idle one, or is
		// refused with 503 if all are serving requests (api.Listener). The
		// handler's write deadline runs from an answer's first byte; the
		// server's, from the end of the request's headers, covers only
		// net/http's own answers.
		cl := api.LimitListener(ln, lim.MaxConns, n.Registry)
		n.httpSrv = &http.Server{Handler: n.Handler,
			ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout,
			WriteTimeout: lim.WriteTimeout, IdleTimeout: lim.IdleTimeout,
			ConnState:   cl.ConnState,
			BaseContext: func(net.Listener) context.Context { return httpCtx }}
		n.httpSrv.RegisterOnShutdown(httpCancel)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.httpSrv.Serve(cl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("HTTP server stopped", "err", err)
			}
		}()
	}
	return n, nil
}

// AuthoritiesFile is the file of the data directory that lists the
// election authorities the ledger accepts.
const AuthoritiesFile = "authorities"

// Authorities returns the authority keys given and those listed in
// <dir>/authorities (one per line; blank lines and lines starting with #
// are skipped), each once, checked.
func Authorities(dir string, given []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(k, where string) error {
		if _, err := events.ParseKey(k); err != nil {
			return fmt.Errorf("authority %s: %w", where, err)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
		return nil
	}
	for _, k := range given {
		if err := add(strings.TrimSpace(k), "(--authority)"); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, AuthoritiesFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := add(line, fmt.Sprintf("on line %d of %s", i+1, path)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// HTTPAddr is the address the API listens on, "" if none.
func (n *Node) HTTPAddr() string { return n.httpAddr }

// Done returns a channel that yields the state machine's error (nil on a
// clean stop) when it stops.
func (n *Node) Done() <-chan error { return n.runErr }

// Close shuts down in order: the HTTP API (letting requests finish until ctx
// ends), the state machine, the broker connection and embedded server, and
// the database.
func (n *Node) Close(ctx context.Context) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if n.httpSrv != nil {
		if err := n.httpSrv.Shutdown(ctx); err != nil {
			// Connections still busy when ctx ends (a client that
			// stalls its body) are cut: no client keeps the ledger from
			// stopping, and stopping so is not a failure.
			n.httpSrv.Close()
			if !errors.Is(err, ctx.Err()) {
				keep(err)
			}
		}
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.Broker != nil {
		n.Broker.Close()
	}
	if n.DB != nil {
		keep(n.DB.Close())
	}
	return first
}
