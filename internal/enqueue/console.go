package enqueue

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// console writes messages to stderr and, when stderr is a terminal, keeps a
// progress bar below them. It is safe for concurrent use.
type console struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
	bar *progressbar.ProgressBar
}

func newConsole(w io.Writer, tty bool) *console { return &console{w: w, tty: tty} }

// Printf prints one message line, above the progress bar if there is one.
func (c *console) Printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Clear()
	}
	fmt.Fprintf(c.w, format, args...)
}

// startBar shows a progress bar of total units (-1: unknown, a spinner) on
// a terminal and does nothing otherwise.
func (c *console) startBar(total int64, bytes bool, description string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		return
	}
	c.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(c.w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)
}

// add advances the bar by n units.
func (c *console) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Add(n)
	}
}

// describe changes the text beside the bar.
func (c *console) describe(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		c.bar.Describe(s)
	}
}

// clearBar wipes the bar off the terminal until its next update.
func (c *console) clearBar() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Clear()
	}
}

// endBar removes the bar.
func (c *console) endBar() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Finish()
		_ = c.bar.Clear()
		c.bar = nil
	}
}

// countingReader advances the console's bar by the bytes read through it.
type countingReader struct {
	r io.Reader
	c *console
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.c.add(n)
	}
	return n, err
}
