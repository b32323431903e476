// Package console is mqstore's built-in web console: pages and the JSON endpoints behind them,
// served by the broker's process on its metrics HTTP port (metrics.HTTPOptions.Handlers), under
// /console/. There is no build step: the HTML template, the script and the style sheet are
// embedded (assets/), and no file is loaded from anywhere else.
//
// Pages: overview (broker health, throughput chart), topics (queues with min/max offsets,
// pending timers; create, update, delete), consumer groups (members, subscriptions, per-queue
// lag; reset offsets by time), transactions (open transactions with age and checks, commit or
// roll back by hand; the discarded list with resume) and messages (by key, by id in either
// form, by time range, a group's dead letters; properties and body; resend to a group).
// docs/CONSOLE.md documents the pages' controls and the JSON endpoints for scripts.
//
// Security. Reads are open to whoever reaches the port (loopback by default). Every write is a
// POST with a JSON body that must carry the per-process token of the page in the
// X-Mqstore-Console-Token header, and whose Origin (when sent) must be the console's own; it is
// refused unless Options.Authorize accepts the request (the hook for ACL admin credentials) or,
// when there is no Authorize, unless the console listens on loopback and the caller connects
// from loopback. Every write is logged with the caller's address and its outcome.
package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqstore/mqstore/acl"
	"github.com/mqstore/mqstore/broker"
	"github.com/mqstore/mqstore/remoting"
)

// Errors of New.
var (
	// ErrInvalidOptions: Options lack the broker or hold a bad value.
	ErrInvalidOptions = errors.New("console: invalid options")
)

// Errors a write is refused with (the answer's status in parentheses).
var (
	// ErrForbidden: the request failed the CSRF checks, or writes are not allowed from this
	// caller (403).
	ErrForbidden = errors.New("console: forbidden")
	// ErrBadRequest: the request's body or parameters are malformed (400).
	ErrBadRequest = errors.New("console: bad request")
)

// Prefix is the path the console is served under; mount Handler at it.
const Prefix = "/console/"

// TokenHeader carries the console's CSRF token on every write.
const TokenHeader = "X-Mqstore-Console-Token"

// The headers of a signed write (ACL on): the admin account's access key, the time of the
// request in Unix milliseconds, and the signature (see checkSigned).
const (
	AccessKeyHeader = "X-Mqstore-AccessKey"
	TimestampHeader = "X-Mqstore-Timestamp"
	SignatureHeader = "X-Mqstore-Signature"
)

// MaxClockSkew is how far a signed write's timestamp may be from the console's clock.
const MaxClockSkew = 5 * time.Minute

// Options configure a Console. Broker is required; the rest have usable zero values.
type Options struct {
	// Broker is the broker the console shows and acts on, in-process.
	Broker *broker.Broker
	// Gatherer, if set, is the registry /metrics serves (metrics.Metrics.Registry); the
	// throughput chart reads its message and put-latency counters. Nil: no chart.
	Gatherer prometheus.Gatherer
	// ListenAddr is the address the console's HTTP server listens on (host:port). Without
	// Authorize, writes are allowed only when its host is a loopback address or "localhost".
	ListenAddr string
	// NameServers are the name server addresses shown on the overview.
	NameServers []string
	// Authorize, if set, decides every request (write says whether it changes anything):
	// nil to allow, an error to refuse with 403. It is the hook for ACL: once ACL is enabled,
	// set it to require an admin account's credentials for writes; the loopback rule then no
	// longer applies to writes.
	Authorize func(r *http.Request, write bool) error
	// ACL checks writes when it is enabled (aclEnable): each write must be signed by an admin
	// account of the ACL file (AccessKeyHeader, TimestampHeader, SignatureHeader; see
	// checkSigned). Default: the broker's checker (Broker.ACL). Authorize, when set, wins.
	ACL *acl.Checker
	// Logger receives the write log. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

//go:embed assets
var assets embed.FS

// Console serves the pages and the JSON endpoints. It holds no goroutine.
type Console struct {
	opts     Options
	b        *broker.Broker
	log      *slog.Logger
	token    string // the CSRF token of this process
	loopback bool   // ListenAddr is a loopback address
	page     *template.Template
	mux      *http.ServeMux
	samples  sampler
	assets   map[string]string // assetURLs
}

// New returns a console over opts.Broker.
func New(opts Options) (*Console, error) {
	if opts.Broker == nil {
		return nil, fmt.Errorf("%w: no broker", ErrInvalidOptions)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ACL == nil {
		opts.ACL = opts.Broker.ACL()
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("console: token: %w", err)
	}
	page, err := template.ParseFS(assets, "assets/page.html")
	if err != nil {
		return nil, fmt.Errorf("console: template: %w", err)
	}
	c := &Console{
		opts:     opts,
		b:        opts.Broker,
		log:      opts.Logger,
		token:    hex.EncodeToString(raw[:]),
		loopback: isLoopbackHost(opts.ListenAddr),
		page:     page,
		mux:      http.NewServeMux(),
		assets:   assetURLs(),
	}
	c.samples.gatherer = opts.Gatherer
	c.routes()
	return c, nil
}

// Handler returns the console's handler, to mount at Prefix.
func (c *Console) Handler() http.Handler { return c }

// ServeHTTP sets the security headers and asks Authorize about reads.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if c.opts.Authorize != nil && r.Method != http.MethodPost {
		if err := c.opts.Authorize(r, false); err != nil {
			writeError(w, fmt.Errorf("%w: %v", ErrForbidden, err))
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// pageNames are the pages in the navigation's order.
var pageNames = []string{"overview", "topics", "groups", "transactions", "messages"}

// pages are the console's pages: path under Prefix → page name.
var pages = map[string]string{"": "overview", "topics": "topics", "groups": "groups", "transactions": "transactions", "messages": "messages"}

func (c *Console) routes() {
	static, _ := fs.Sub(assets, "assets/static")
	files := http.StripPrefix(Prefix+"static/", http.FileServerFS(static))
	c.mux.HandleFunc("GET "+Prefix+"static/", func(w http.ResponseWriter, r *http.Request) {
		// The page links the assets with their content's hash (?v=): a versioned URL never
		// changes, so the browser keeps it and a page load costs the HTML and the data only.
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
	for path, name := range pages {
		pattern := "GET " + Prefix + path
		if path == "" {
			pattern += "{$}"
		}
		c.mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) { c.servePage(w, name) })
	}
	api := func(pattern string, f func(*http.Request) (any, error)) {
		c.mux.HandleFunc("GET "+Prefix+"api/"+pattern, func(w http.ResponseWriter, r *http.Request) {
			v, err := f(r)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	api("overview", c.overview)
	api("topics", c.topics)
	api("topics/{topic}", c.topic)
	api("groups", c.groups)
	api("groups/{group}", c.group)
	api("transactions", c.transactions)
	api("transactions/discarded", c.discarded)
	api("messages", c.messages)
	api("throughput", c.throughput)
	api("timers", c.timers)

	c.write("topics/update", "topic update", remoting.RequestUpdateAndCreateTopic, c.updateTopic)
	c.write("topics/delete", "topic delete", remoting.RequestDeleteTopicInBroker, c.deleteTopic)
	c.write("transactions/commit", "transaction commit", remoting.RequestCommitHalfMessage, func(r *http.Request, body []byte) (any, []any, error) {
		return c.resolve(r, body, true)
	})
	c.write("transactions/rollback", "transaction rollback", remoting.RequestRollbackHalfMessage, func(r *http.Request, body []byte) (any, []any, error) {
		return c.resolve(r, body, false)
	})
	c.write("transactions/resume", "transaction resume", remoting.RequestResumeCheckHalfMessage, c.resume)
	c.write("groups/reset", "offset reset", remoting.RequestInvokeBrokerToResetOffset, c.resetOffset)
	c.write("messages/resend", "message resend", remoting.RequestConsumeMessageDirectly, c.resend)
}

// page.html's data.
type pageData struct {
	Page, Token, Broker string
	Pages               []string
	Assets              map[string]string // asset file name → its versioned URL
	ACL                 bool              // writes must be signed (the page asks for keys)
}

// assetURLs maps each static asset to its URL with the hash of its content (?v=).
func assetURLs() map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(assets, "assets/static")
	for _, e := range entries {
		data, err := fs.ReadFile(assets, "assets/static/"+e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		out[e.Name()] = Prefix + "static/" + e.Name() + "?v=" + hex.EncodeToString(sum[:6])
	}
	return out
}

func (c *Console) servePage(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	st := c.b.Config()
	err := c.page.Execute(w, pageData{Page: name, Token: c.token, Broker: st.BrokerName,
		Pages: pageNames, Assets: c.assets, ACL: c.opts.Authorize == nil && c.aclOn()})
	if err != nil {
		c.log.Warn("console: page", "page", name, "err", err)
	}
}

// maxWriteBody caps the JSON body of a write.
const maxWriteBody = 64 << 10

// write registers a write endpoint: POST, CSRF-checked, authorized, logged with the caller.
// f returns the answer and the attributes to log.
// code is the wire request code the write stands for, as the ACL checks and audits it.
func (c *Console) write(pattern, action string, code remoting.RequestCode, f func(r *http.Request, body []byte) (any, []any, error)) {
	c.mux.HandleFunc("POST "+Prefix+"api/"+pattern, func(w http.ResponseWriter, r *http.Request) {
		log := c.log.With("action", action, "remote", r.RemoteAddr)
		if err := c.checkCSRF(r); err != nil {
			log.Warn("console: write refused", "err", err)
			writeError(w, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWriteBody))
		if err != nil {
			writeError(w, fmt.Errorf("%w: body: %v", ErrBadRequest, err))
			return
		}
		if ak := r.Header.Get(AccessKeyHeader); ak != "" {
			log = log.With("accessKey", ak)
		}
		if err := c.allowWrite(r, code, body); err != nil {
			log.Warn("console: write refused", "err", err)
			writeError(w, err)
			return
		}
		v, attrs, err := f(r, body)
		if err != nil {
			log.Warn("console: write failed", append(attrs, "err", err)...)
			writeError(w, err)
			return
		}
		log.Info("console: write", attrs...)
		writeJSON(w, http.StatusOK, v)
	})
}

// checkCSRF applies the CSRF checks of a write.
func (c *Console) checkCSRF(r *http.Request) error {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(TokenHeader)), []byte(c.token)) != 1 {
		return fmt.Errorf("%w: missing or wrong %s", ErrForbidden, TokenHeader)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("%w: origin %q is not this console's (%s)", ErrForbidden, origin, r.Host)
		}
	} else if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("%w: cross-site request (%s)", ErrForbidden, site)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: content type %q, want application/json", ErrBadRequest, ct)
	}
	return nil
}

// allowWrite applies Authorize, the ACL (when enabled) or the loopback rule.
func (c *Console) allowWrite(r *http.Request, code remoting.RequestCode, body []byte) error {
	if c.opts.Authorize != nil {
		if err := c.opts.Authorize(r, true); err != nil {
			return fmt.Errorf("%w: %v", ErrForbidden, err)
		}
		return nil
	}
	if c.aclOn() {
		return c.checkSigned(r, code, body)
	}
	if !c.loopback {
		return fmt.Errorf("%w: writes need the console bound to loopback (it listens on %s) or ACL admin credentials", ErrForbidden, c.opts.ListenAddr)
	}
	if !isLoopbackHost(r.RemoteAddr) {
		return fmt.Errorf("%w: writes only from loopback, not %s", ErrForbidden, r.RemoteAddr)
	}
	return nil
}

// aclOn reports whether writes are checked against the ACL file.
func (c *Console) aclOn() bool { return c.opts.ACL != nil && c.opts.ACL.Enabled() }

// checkSigned checks a write against the ACL: it must carry an admin account's access key, a
// timestamp within MaxClockSkew, and the signature of RocketMQ's recipe (acl.Sign) over the
// fields AccessKey, Method, Path and Timestamp and the body — that is, the standard base64 of
// HMAC-SHA1(secretKey, accessKey + "POST" + path + timestamp + body). White lists do not waive
// it: a browser on a white-listed machine can be driven by any web page it visits.
func (c *Console) checkSigned(r *http.Request, code remoting.RequestCode, body []byte) error {
	ak, ts, sig := r.Header.Get(AccessKeyHeader), r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader)
	if ak == "" || sig == "" {
		return fmt.Errorf("%w: ACL is on: writes must be signed by an admin account (%s, %s, %s)", ErrForbidden, AccessKeyHeader, TimestampHeader, SignatureHeader)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix milliseconds", ErrForbidden, TimestampHeader, ts)
	}
	if skew := c.opts.Now().Sub(time.UnixMilli(ms)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return fmt.Errorf("%w: %s is %v away from the console's clock (at most %v)", ErrForbidden, TimestampHeader, skew.Round(time.Second), MaxClockSkew)
	}
	var fields remoting.Fields
	fields.Set(acl.FieldAccessKey, ak)
	fields.Set(acl.FieldSignature, sig)
	fields.Set("Method", r.Method)
	fields.Set("Path", r.URL.Path)
	fields.Set("Timestamp", ts)
	// Remote is left unset so that no white list applies; RemoteString is what is logged.
	if err := c.opts.ACL.Check(&acl.Request{Code: code, Fields: fields, Body: body, RemoteString: r.RemoteAddr}); err != nil {
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	if rules := c.opts.ACL.Rules(); rules == nil || !rules.IsAdmin(ak) {
		return fmt.Errorf("%w: console writes need an admin account, and accessKey=%s is not", ErrForbidden, ak)
	}
	return nil
}

// Writable reports whether writes can be allowed at all, and why not.
func (c *Console) writable() (bool, string) {
	if c.opts.Authorize != nil || c.aclOn() {
		return true, ""
	}
	if !c.loopback {
		return false, "the console is not bound to loopback and ACL is off: writes are refused"
	}
	return true, ""
}

// isLoopbackHost reports whether a host or host:port names a loopback address.
func isLoopbackHost(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// httpError carries a status for an error that is not one of the sentinels.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// sampler keeps the samples of the throughput chart: taken when the chart asks, at most one a
// second, the last maxSamples kept.
type sampler struct {
	gatherer prometheus.Gatherer

	mu      sync.Mutex // guards samples
	samples []Sample
}
