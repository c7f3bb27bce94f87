package natsconn

// Flags are the command-line tools' connection flags (kong tags), named
// after the NATS tools' environment variables.
type Flags struct {
	URL      string `name:"nats-url" env:"NATS_URL" default:"nats://127.0.0.1:4222" placeholder:"URL" help:"NATS server URL(s), comma separated; the worker's embedded server listens on the default."`
	Creds    string `env:"NATS_CREDS" placeholder:"FILE" help:"User credentials file (JWT and NKey seed)."`
	NKey     string `name:"nkey" env:"NATS_NKEY" placeholder:"FILE" help:"NKey seed file."`
	User     string `env:"NATS_USER" help:"User name."`
	Password string `env:"NATS_PASSWORD" help:"Password."`
	Token    string `env:"NATS_TOKEN" help:"Authentication token."`
	TLSCert  string `name:"tls-cert" placeholder:"FILE" help:"Client certificate (with --tls-key)."`
	TLSKey   string `name:"tls-key" placeholder:"FILE" help:"Client private key."`
	TLSCA    string `name:"tls-ca" placeholder:"FILE" help:"CA certificate to verify the server."`
	Domain   string `name:"js-domain" placeholder:"DOMAIN" help:"JetStream domain that holds talkrelay's streams (the worker's nats.domain), when this account reaches JetStream through a leaf node."`
}

// Config maps the flags onto Config.
func (f Flags) Config() Config {
	return Config{
		URL:      f.URL,
		Creds:    f.Creds,
		NKey:     f.NKey,
		User:     f.User,
		Password: f.Password,
		Token:    f.Token,
		TLSCert:  f.TLSCert,
		TLSKey:   f.TLSKey,
		TLSCA:    f.TLSCA,
		Domain:   f.Domain,
	}
}
