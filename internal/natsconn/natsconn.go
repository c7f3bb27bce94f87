// Package natsconn connects talkrelay's binaries to NATS: to a server named
// by URL with the usual NATS credential and TLS options, or, with no URL, to
// an embedded nats-server with JetStream started in the process.
package natsconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says how to reach NATS. Field names follow the NATS tools'
// environment variables (NATS_URL, NATS_CREDS, ...).
type Config struct {
	// URL of the server(s), comma separated. Empty: run an embedded server.
	URL string `yaml:"url"`
	// Creds is a .creds file (JWT and NKey seed).
	Creds string `yaml:"creds"`
	// NKey is an NKey seed file.
	NKey string `yaml:"nkey"`
	// User and Password for user/password auth. Password may also come from
	// NATS_PASSWORD.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// Token for token auth (or NATS_TOKEN).
	Token string `yaml:"token"`
	// TLSCert, TLSKey: client certificate; TLSCA: CA to verify the server.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	TLSCA   string `yaml:"tls_ca"`
	// Domain is the JetStream domain that holds talkrelay's streams, for a
	// NATS account that reaches JetStream through a leaf node (API subjects
	// $JS.<domain>.API.>). Empty: the account's own JetStream. With no URL
	// it is the embedded server's JetStream domain.
	Domain string `yaml:"domain"`
	// Embedded configures the embedded server used when URL is empty.
	Embedded Embedded `yaml:"embedded"`
}

// Embedded configures the in-process nats-server.
type Embedded struct {
	// StoreDir is where JetStream keeps its files (default ./data).
	StoreDir string `yaml:"store_dir"`
	// Host and Port to listen on, so that enqueue and other clients can
	// reach it (default 127.0.0.1:4222). Port -1 picks a free port.
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// MaxPayload is the largest message in bytes (default 8 MiB).
	MaxPayload int32 `yaml:"max_payload"`
	// SyncAlways fsyncs every write (sync_interval: always): slower, but no
	// acknowledged write is lost on power failure.
	SyncAlways bool `yaml:"sync_always"`
}

// Defaults fills the unset fields.
func (c *Config) Defaults() {
	e := &c.Embedded
	if e.StoreDir == "" {
		e.StoreDir = "./data"
	}
	if e.Host == "" {
		e.Host = "127.0.0.1"
	}
	if e.Port == 0 {
		e.Port = 4222
	}
	if e.MaxPayload == 0 {
		e.MaxPayload = 8 << 20
	}
}

// Validate names the first inconsistent field.
func (c *Config) Validate() error {
	if err := CheckURLs(c.URL); err != nil {
		return fmt.Errorf("nats.url: %w", err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("nats.tls_cert and nats.tls_key: set both or neither")
	}
	if c.Creds != "" && c.NKey != "" {
		return errors.New("nats.creds and nats.nkey: set one, not both")
	}
	for field, path := range map[string]string{"nats.creds": c.Creds, "nats.nkey": c.NKey, "nats.tls_cert": c.TLSCert, "nats.tls_key": c.TLSKey, "nats.tls_ca": c.TLSCA} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	if c.Domain != "" && !validDomain(c.Domain) {
		return fmt.Errorf("nats.domain: %q is not a JetStream domain (letters, digits, - and _)", c.Domain)
	}
	if c.URL == "" && (c.Embedded.Port < -1 || c.Embedded.Port > 65535) {
		return fmt.Errorf("nats.embedded.port: %d is not a port", c.Embedded.Port)
	}
	return nil
}

// CheckURLs checks a comma-separated list of server URLs as nats.go reads
// it (a URL without scheme is nats://), so that a typo is reported instead
// of looked up in DNS. An empty list is fine.
func CheckURLs(urls string) error {
	if strings.TrimSpace(urls) == "" {
		return nil
	}
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		full := s
		if !strings.Contains(s, "://") {
			full = "nats://" + s
		}
		u, err := url.Parse(full)
		ok := err == nil && u.Hostname() != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == ""
		if ok {
			switch u.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				ok = false
			}
		}
		if ok && u.Port() != "" {
			n, err := strconv.Atoi(u.Port())
			ok = err == nil && n > 0 && n <= 65535
		}
		if !ok {
			return fmt.Errorf("%q is not a NATS server URL such as nats://host:4222 (schemes nats, tls, ws, wss)", s)
		}
	}
	return nil
}

// Options returns the nats.go options for c, named name, with the handlers
// given. Reconnection is unlimited: a worker waits out a NATS outage.
func (c *Config) Options(name string, extra ...nats.Option) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	return append(opts, extra...), nil
}

// validDomain reports whether d can be a JetStream domain: one subject
// token, as the server requires.
func validDomain(d string) bool {
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return d != ""
}

// JetStream returns the JetStream of c.Domain (the account's own when
// empty) on nc.
func (c *Config) JetStream(nc *nats.Conn, opts ...jetstream.JetStreamOpt) (jetstream.JetStream, error) {
	if c.Domain != "" {
		return jetstream.NewWithDomain(nc, c.Domain, opts...)
	}
	return jetstream.New(nc, opts...)
}

// Connect connects to c.URL.
func (c *Config) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := c.Options(name, extra...)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", c.URL, err)
	}
	return nc, nil
}

// StartEmbedded starts the embedded nats-server with JetStream (in
// JetStream domain domain, if not empty) and waits until it accepts
// connections. Call Shutdown on the result when done.
func StartEmbedded(e Embedded, domain string) (*server.Server, error) {
	addr := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	if e.Port > 0 {
		// Fail at once on a port another process holds, rather than after
		// the server's start-up wait.
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("embedded nats-server: port %d is in use on %s (another worker or nats-server?): stop it, set nats.embedded.port, or connect to it with --nats-url", e.Port, e.Host)
			}
			return nil, fmt.Errorf("embedded nats-server: listen on %s: %w", addr, err)
		}
		_ = l.Close()
	}
	opts := &server.Options{
		JetStreamDomain: domain,
		ServerName:      "talkrelay-embedded",
		Host:            e.Host,
		Port:            e.Port,
		JetStream:       true,
		StoreDir:        e.StoreDir,
		MaxPayload:      e.MaxPayload,
		SyncAlways:      e.SyncAlways,
		NoSigs:          true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats-server did not start listening on %s within 15s", addr)
	}
	return ns, nil
}

// PayloadWarning returns why the server nc is connected to cannot take
// every job the worker accepts: its max_payload (1 MiB unless the server's
// config raises it) is below maxJobBytes, so larger jobs fail at the
// producer and never reach the worker. It returns "" when there is room.
func PayloadWarning(nc *nats.Conn, maxJobBytes int) string {
	if mp := nc.MaxPayload(); mp < int64(maxJobBytes) {
		return fmt.Sprintf("the NATS server's max_payload is %d bytes, below worker.max_job_bytes (%d): producers cannot publish jobs between the two sizes; raise max_payload in the server's config (talkrelay's own server uses nats.embedded.max_payload)", mp, maxJobBytes)
	}
	return ""
}
