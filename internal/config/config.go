// Package config reads remarket's settings from the environment; command-line
// flags override them. Validate says in one line what is wrong with a value.
package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Defaults used when neither a flag nor the environment sets a value.
const (
	DefaultDatabaseURL = "postgres://localhost:5432/remarket?sslmode=disable"
	DefaultHTTPAddr    = "127.0.0.1:8080"
)

// Config is everything a remarket process needs to know about its world.
type Config struct {
	DatabaseURL string // REMARKET_DATABASE_URL
	HTTPAddr    string // REMARKET_HTTP_ADDR
	PublicURL   string // REMARKET_PUBLIC_URL: how customers reach this server (links, unsubscribe)
	Secret      string // REMARKET_SECRET: signs tokens; serve refuses to start without it
	SMTPURL     string // REMARKET_SMTP_URL
	AdminToken  string // REMARKET_ADMIN_TOKEN
	Templates   string // REMARKET_TEMPLATES
	SMTPRate    string // REMARKET_SMTP_RATE: messages per second across connections, 0 for no limit
}

// Env lists each setting's variable, for help texts and FromEnv.
var Env = map[string]string{
	"database-url": "REMARKET_DATABASE_URL",
	"http-addr":    "REMARKET_HTTP_ADDR",
	"public-url":   "REMARKET_PUBLIC_URL",
	"secret":       "REMARKET_SECRET",
	"smtp-url":     "REMARKET_SMTP_URL",
	"admin-token":  "REMARKET_ADMIN_TOKEN",
	"templates":    "REMARKET_TEMPLATES",
	"smtp-rate":    "REMARKET_SMTP_RATE",
}

// FromEnv reads the settings through getenv (os.Getenv in production),
// filling defaults.
func FromEnv(getenv func(string) string) Config {
	c := Config{
		DatabaseURL: getenv("REMARKET_DATABASE_URL"),
		HTTPAddr:    getenv("REMARKET_HTTP_ADDR"),
		PublicURL:   getenv("REMARKET_PUBLIC_URL"),
		Secret:      getenv("REMARKET_SECRET"),
		SMTPURL:     getenv("REMARKET_SMTP_URL"),
		AdminToken:  getenv("REMARKET_ADMIN_TOKEN"),
		Templates:   getenv("REMARKET_TEMPLATES"),
		SMTPRate:    getenv("REMARKET_SMTP_RATE"),
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	return c
}

// Validate checks every value that is set and returns the first problem,
// phrased for the operator.
func (c Config) Validate() error {
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("REMARKET_DATABASE_URL %q is not a postgres:// URL", c.DatabaseURL)
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		return fmt.Errorf("REMARKET_HTTP_ADDR %q is not host:port (for example 127.0.0.1:8080)", c.HTTPAddr)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("REMARKET_PUBLIC_URL %q is not an absolute http(s) URL", c.PublicURL)
		}
	}
	if c.SMTPURL != "" {
		if err := validateSMTP(c.SMTPURL); err != nil {
			return err
		}
	}
	if c.SMTPRate != "" {
		if r, err := strconv.ParseFloat(c.SMTPRate, 64); err != nil || r < 0 {
			return fmt.Errorf("REMARKET_SMTP_RATE %q is not a number of messages per second (0 for no limit)", c.SMTPRate)
		}
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		return fmt.Errorf("REMARKET_SECRET is too short: use at least 16 characters")
	}
	return nil
}

func validateSMTP(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return fmt.Errorf("REMARKET_SMTP_URL %q is not smtp://host:port or smtps://host:port", raw)
	}
	switch p := u.Query().Get("starttls"); strings.ToLower(p) {
	case "", "required", "opportunistic", "none":
	default:
		return fmt.Errorf("REMARKET_SMTP_URL: starttls=%q must be required, opportunistic or none", p)
	}
	return nil
}

// SMTPRatePerSecond is SMTPRate as a number (0: no limit).
func (c Config) SMTPRatePerSecond() float64 {
	r, _ := strconv.ParseFloat(c.SMTPRate, 64)
	return r
}

// PublicBase returns PublicURL, or http://HTTPAddr when it is unset.
func (c Config) PublicBase() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.HTTPAddr
}
