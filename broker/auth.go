package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/election-audit/ledger/internal/atomicfile"
)

// MonitorKeyFile is the default file name of the monitor user's NKey seed.
const MonitorKeyFile = "nats-monitor.nk"

// DefaultFeedStream is the change feed's stream, as package feed names it.
const DefaultFeedStream = "LEDGER_FEED"

// LedgerInboxPrefix is the inbox prefix of the ledger's own connection,
// apart from the clients' "_INBOX" so that a monitor, which may subscribe
// to "_INBOX.>" to receive its replies, can neither read the ledger's
// replies nor learn the inboxes its consumers deliver to.
const LedgerInboxPrefix = "_LEDGER_INBOX"

// ledgerUser is the embedded server's user name of the ledger.
const ledgerUser = "ledger"

// MonitorPermissions are what a monitor may do: read the change feed, and
// nothing else. It may subscribe to the feed subjects and to replies in
// "_INBOX.>", look up the feed stream, create, look up and pull from
// consumers of the feed stream, and acknowledge their messages. It may
// not publish to any other subject (the submission and feed subjects
// among them) nor call any other JetStream API: no stream deletion, purge,
// message deletion, stream creation or update, consumer deletion, nor
// anything on the submission stream.
func MonitorPermissions(feedStream, subjectPrefix string) *server.Permissions {
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			api + "STREAM.INFO." + feedStream,
			api + "CONSUMER.CREATE." + feedStream,        // ephemeral, legacy form
			api + "CONSUMER.CREATE." + feedStream + ".>", // named, with or without a filter
			api + "CONSUMER.DURABLE.CREATE." + feedStream + ".*",
			api + "CONSUMER.INFO." + feedStream + ".*",
			api + "CONSUMER.MSG.NEXT." + feedStream + ".*",
			"$JS.ACK." + feedStream + ".>", // acknowledgements
			"$JS.FC." + feedStream + ".>",  // flow control of push consumers
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			subjectPrefix + ".feed.>",
			"_INBOX.>",
		}},
	}
}

// embeddedAuth is the embedded server's users; it has no anonymous one.
//
//   - The ledger: a user whose password is drawn at random on every start
//     and kept in memory only. The ledger connects in-process with it and
//     may do anything. [Broker.ClientURL] carries it, for another ledger in
//     the same process (tests attach replicas that way); it is never
//     printed or written.
//   - Monitors: one NKey user, its seed in MonitorKeyFile (mode 0600 in
//     the data directory), allowed only to read the change feed
//     ([MonitorPermissions]).
type embeddedAuth struct {
	password   string
	monitorKey string
}

func (a embeddedAuth) apply(opts *server.Options, cfg Config) {
	opts.Users = []*server.User{{Username: ledgerUser, Password: a.password}}
	opts.Nkeys = []*server.NkeyUser{{Nkey: a.monitorKey, Permissions: MonitorPermissions(cfg.FeedStream, cfg.SubjectPrefix)}}
}

// ledgerURL is the embedded server's client URL with the ledger's
// credentials.
func (a embeddedAuth) ledgerURL(srv *server.Server) string {
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		return ""
	}
	u.User = url.UserPassword(ledgerUser, a.password)
	return u.String()
}

// loadOrCreateMonitorKey returns the public key of the monitor user whose
// seed is in path, creating the seed (mode 0600) if the file is missing.
func loadOrCreateMonitorKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", fmt.Errorf("couldn't generate the NATS monitor key: %w", err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return "", fmt.Errorf("couldn't generate the NATS monitor key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", fmt.Errorf("couldn't create the directory of the NATS monitor key: %w", err)
		}
		if err := atomicfile.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
			return "", err
		}
		data = seed
	} else if err != nil {
		return "", fmt.Errorf("couldn't read the NATS monitor key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("NATS monitor key %s is readable by others (mode %v): run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return "", fmt.Errorf("NATS monitor key %s holds no NKey seed (remove it to make a new one): %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("NATS monitor key %s is not a user seed (remove it to make a new one)", path)
	}
	return pub, nil
}
