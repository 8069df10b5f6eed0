package ipcserver

import (
	"context"
	"net"
	"sync"
	"time"
)

// connContext is the context a handler gets: the server's, also cancelled
// when the client closes its end of the connection or sends more (one
// request per connection, so anything more means it gave up). Watching the
// connection takes a goroutine blocked in a read; it is started only when
// the handler first asks whether the request is cancelled (Done or Err,
// also through a derived context), so a request answered at once, such as
// a cached token, costs no goroutine, no context of its own and no
// teardown.
type connContext struct {
	context.Context // the server's
	conn            net.Conn

	once      sync.Once
	ctx       context.Context // the watched context, set by once
	cancel    context.CancelFunc
	watchDone chan struct{} // closed when the watcher returns; nil if none ran
}

func newConnContext(parent context.Context, c net.Conn) *connContext {
	return &connContext{Context: parent, conn: c}
}

// watch starts the watcher, once.
func (c *connContext) watch() {
	c.once.Do(func() {
		c.ctx, c.cancel = context.WithCancel(c.Context)
		c.watchDone = make(chan struct{})
		go func() {
			defer close(c.watchDone)
			var b [1]byte
			c.conn.Read(b[:])
			c.cancel()
		}()
	})
}

// Done implements context.Context: it starts watching the connection.
func (c *connContext) Done() <-chan struct{} {
	c.watch()
	return c.ctx.Done()
}

// Err implements context.Context: it starts watching the connection.
func (c *connContext) Err() error {
	c.watch()
	return c.ctx.Err()
}

// finish ends the request: it stops the watcher if one runs and waits for
// it; a Done or Err after finish reports the request cancelled, as it is.
func (c *connContext) finish() {
	started := true
	c.once.Do(func() {
		started = false
		c.ctx, c.cancel = context.WithCancel(c.Context)
	})
	if started {
		c.conn.SetReadDeadline(time.Unix(1, 0)) // unblocks the watcher's read
		<-c.watchDone
	}
	c.cancel()
}
