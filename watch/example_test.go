package watch_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/watch"
)

// A monitor that follows an election until Ctrl-C and tells an alarm
// apart from other failures.
func ExampleWatcher() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := client.New(client.DefaultURL, nil)
	if err != nil {
		log.Fatal(err)
	}
	key, err := os.ReadFile("ledger.pub") // the verifier key, from a source you trust
	if err != nil {
		log.Fatal(err)
	}
	w, err := watch.New(watch.Config{Election: "ga06-2017-04", Key: strings.TrimSpace(string(key)), Client: c, StateDir: "ledger-watch"})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	err = w.Run(ctx)
	var alarm *watch.AlarmError
	if errors.As(err, &alarm) {
		log.Printf("history rewritten (%s); evidence in %s", alarm.Kind, alarm.Evidence)
		os.Exit(5)
	}
	if err != nil {
		log.Fatal(err)
	}
}
