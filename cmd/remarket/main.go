// Command remarket is the email remarketing engine: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/remarket/remarket/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx)
	stop()
	os.Exit(code)
}
