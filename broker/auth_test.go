package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

func openEmbedded(t *testing.T, cfg Config) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// The monitor key is made on first start, mode 0600, and kept; clients
// without it are refused.
func TestEmbeddedAuth(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, MonitorKeyFile)
	b := openEmbedded(t, Config{Dir: filepath.Join(dir, "js"), Listen: "127.0.0.1:0", MonitorKeyFile: keyFile})
	if b.MonitorKeyFile() != keyFile {
		t.Errorf("MonitorKeyFile() = %q, want %q", b.MonitorKeyFile(), keyFile)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyFile, fi.Mode().Perm())
	}
	seed, _ := os.ReadFile(keyFile)
	url := b.MonitorURL()
	if url == "" || strings.Contains(url, "@") {
		t.Fatalf("MonitorURL() = %q: want the listener's URL without credentials", url)
	}
	if strings.Contains(url, b.auth.password) || !strings.Contains(b.ClientURL(), b.auth.password) {
		t.Errorf("MonitorURL() %q must not carry the ledger's password, ClientURL() must", url)
	}

	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	otherFile := filepath.Join(dir, "other.nk")
	os.WriteFile(otherFile, otherSeed, 0o600)
	otherKey, err := nats.NkeyOptionFromSeed(otherFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string][]nats.Option{
		"anonymous":              nil,
		"the ledger's user name": {nats.UserInfo(ledgerUser, "guess")},
		"another NKey":           {otherKey},
	} {
		nc, err := nats.Connect(url, append(opts, nats.NoReconnect())...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}
	monitor, err := nats.NkeyOptionFromSeed(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, monitor)
	if err != nil {
		t.Fatalf("monitor: %v", err)
	}
	nc.Close()
	nc, err = nats.Connect(b.ClientURL())
	if err != nil {
		t.Fatalf("ClientURL: %v", err)
	}
	nc.Close()
	b.Close()

	// A restart keeps the key.
	b = openEmbedded(t, Config{Dir: filepath.Join(dir, "js"), Listen: "127.0.0.1:0", MonitorKeyFile: keyFile})
	if again, _ := os.ReadFile(keyFile); string(again) != string(seed) {
		t.Error("the monitor key changed across a restart")
	}
	if nc, err = nats.Connect(b.MonitorURL(), monitor); err != nil {
		t.Fatalf("monitor after a restart: %v", err)
	}
	nc.Close()
	b.Close()

	// A key others can read is refused.
	os.Chmod(keyFile, 0o644)
	_, err = Open(context.Background(), Config{Dir: filepath.Join(dir, "js"), Listen: "127.0.0.1:0", MonitorKeyFile: keyFile})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a monitor key of mode 0644: %v", err)
	}
}

// With --nats-listen "-" the embedded server has no listener: the ledger
// connects in-process and nothing else can connect.
func TestEmbeddedNoListener(t *testing.T) {
	dir := t.TempDir()
	b := openEmbedded(t, Config{Dir: dir, Listen: "-"})
	if b.srv.Addr() != nil || b.MonitorURL() != "" || b.ClientURL() != "" {
		t.Errorf("listening at %v; MonitorURL %q, ClientURL %q", b.srv.Addr(), b.MonitorURL(), b.ClientURL())
	}
	ctx := context.Background()
	if _, err := b.Publish(ctx, Message{Election: "e", ID: "id-1", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, MonitorKeyFile)); err != nil {
		t.Errorf("the default monitor key: %v", err)
	}
}

// The monitor may look up and consume the feed stream and nothing else.
func TestMonitorPermissions(t *testing.T) {
	p := MonitorPermissions("LEDGER_FEED", "ledger")
	if !slices.Contains(p.Subscribe.Allow, "ledger.feed.>") || len(p.Subscribe.Deny) != 0 || len(p.Publish.Deny) != 0 {
		t.Errorf("subscribe %+v", p.Subscribe)
	}
	for _, s := range p.Publish.Allow {
		if !strings.Contains(s, ".LEDGER_FEED") || strings.Contains(s, "DELETE") || strings.Contains(s, "PURGE") ||
			strings.Contains(s, "UPDATE") || strings.HasPrefix(s, "ledger.") {
			t.Errorf("monitors may publish to %s", s)
		}
	}
}

func TestRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                         "nats://127.0.0.1:4222",
		"nats://ledger:secret@n1:4222":                  "nats://ledger:xxxxx@n1:4222",
		"nats://u:p@n1:4222,nats://u:p@n2:4222":         "nats://u:xxxxx@n1:4222,nats://u:xxxxx@n2:4222",
		"nats://n1:4222, nats://n2:4222":                "nats://n1:4222, nats://n2:4222",
		"nats://token@n1:4222":                          "nats://xxxxx@n1:4222",
		"nats://ledger:secret@n1:4222,nats://n2:4222/x": "nats://ledger:xxxxx@n1:4222,nats://n2:4222/x",
	} {
		if got := Redacted(in); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
	}
}

// The external server configuration shown in docs/security.md and the
// README is the authorization block of deploy/nats.conf, which
// TestDeployConfig runs: the same text, the same users; monitors get
// exactly MonitorPermissions, the ledger is unrestricted, and there is no
// anonymous user.
func TestExternalConfigInDocs(t *testing.T) {
	for _, name := range []string{"docs/security.md", "README.md"} {
		t.Run(name, func(t *testing.T) { checkConfigInDoc(t, name) })
	}
}

func checkConfigInDoc(t *testing.T, name string) {
	doc, err := os.ReadFile("../" + name)
	if err != nil {
		t.Fatal(err)
	}
	const first = "# deploy/nats.conf"
	_, block, ok := strings.Cut(string(doc), "```\n"+first)
	if !ok {
		t.Fatalf("%s has no code block starting with %q", name, first)
	}
	block, _, _ = strings.Cut(block, "```")
	_, block, _ = strings.Cut(block, "\n") // the rest of the heading comment
	deploy, err := os.ReadFile("../deploy/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(deploy), block) {
		t.Errorf("the block in %s is not in deploy/nats.conf:\n%s", name, block)
	}
	t.Setenv("LEDGER_NATS_PASSWORD", "ledger-secret")
	t.Setenv("MONITOR_NATS_PASSWORD", "monitor-secret")
	docOpts := &server.Options{}
	if err := docOpts.ProcessConfigString(block); err != nil {
		t.Fatalf("the configuration in %s: %v", name, err)
	}
	deployOpts, err := server.ProcessConfigFile("../deploy/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts *server.Options
	}{{name, docOpts}, {"deploy/nats.conf", deployOpts}} {
		checkUsers(t, c.name, c.opts)
	}
	users := func(o *server.Options) string {
		var s []string
		for _, u := range o.Users {
			s = append(s, u.Username+":"+u.Password)
		}
		slices.Sort(s)
		return strings.Join(s, " ")
	}
	if users(docOpts) != users(deployOpts) {
		t.Errorf("users in %s %s, in deploy/nats.conf %s", name, users(docOpts), users(deployOpts))
	}
}

// checkUsers checks a server configuration's users: a ledger user with
// its password and no restriction, a monitor user with exactly
// MonitorPermissions, nobody else, and no anonymous access.
func checkUsers(t *testing.T, name string, opts *server.Options) {
	t.Helper()
	if opts.NoAuthUser != "" || len(opts.Nkeys) != 0 {
		t.Errorf("%s: no_auth_user %q, %d NKey users", name, opts.NoAuthUser, len(opts.Nkeys))
	}
	var ledger, monitor *server.User
	for _, u := range opts.Users {
		switch u.Username {
		case "ledger":
			ledger = u
		case "monitor":
			monitor = u
		default:
			t.Errorf("%s: an unexpected user %q", name, u.Username)
		}
	}
	switch {
	case ledger == nil || ledger.Password != "ledger-secret":
		t.Errorf("%s: no ledger user with the password of $LEDGER_NATS_PASSWORD", name)
	case ledger.Permissions != nil:
		t.Errorf("%s: the ledger user is restricted: %+v", name, ledger.Permissions)
	}
	if monitor == nil || monitor.Permissions == nil || monitor.Password != "monitor-secret" {
		t.Fatalf("%s: no monitor user with permissions and the password of $MONITOR_NATS_PASSWORD", name)
	}
	want := MonitorPermissions(DefaultFeedStream, DefaultSubjectPrefix)
	for _, p := range []struct {
		name      string
		got, want *server.SubjectPermission
	}{{"publish", monitor.Permissions.Publish, want.Publish}, {"subscribe", monitor.Permissions.Subscribe, want.Subscribe}} {
		if p.got == nil || !sameSet(p.got.Allow, p.want.Allow) || len(p.got.Deny) != 0 {
			t.Errorf("%s: monitor %s permissions %+v, want allow %v", name, p.name, p.got, p.want.Allow)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
