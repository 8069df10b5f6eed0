package ipcserver

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestConnContext(t *testing.T) {
	t.Run("not asked: no watcher", func(t *testing.T) {
		srv, cli := net.Pipe()
		defer cli.Close()
		ctx := newConnContext(context.Background(), srv)
		if ctx.Value("k") != nil {
			t.Fatal("Value from nowhere")
		}
		ctx.finish()
		if ctx.watchDone != nil {
			t.Fatal("a watcher ran for a request that never asked")
		}
		select {
		case <-ctx.Done():
		default:
			t.Fatal("Done after finish is not closed")
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err after finish = %v", ctx.Err())
		}
	})
	t.Run("client leaves", func(t *testing.T) {
		srv, cli := net.Pipe()
		ctx := newConnContext(context.Background(), srv)
		if ctx.Err() != nil {
			t.Fatalf("Err = %v before the client left", ctx.Err())
		}
		cli.Close()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("closing the client did not cancel the request")
		}
		ctx.finish()
	})
	t.Run("derived context and server stop", func(t *testing.T) {
		srv, cli := net.Pipe()
		defer cli.Close()
		parent, stop := context.WithCancel(context.Background())
		ctx := newConnContext(parent, srv)
		child, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		stop()
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("stopping the server did not cancel a derived context")
		}
		ctx.finish() // stops the watcher blocked in Read
	})
}
