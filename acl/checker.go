package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqstore/mqstore/protocol"
	"github.com/mqstore/mqstore/remoting"
)

// Scope selects which requests a Checker checks.
type Scope uint8

const (
	// ScopeBroker checks every request (RocketMQ's broker).
	ScopeBroker Scope = iota
	// ScopeNameServer checks only the requests that change routes or configuration
	// (REGISTER_BROKER, UNREGISTER_BROKER, DELETE_TOPIC_IN_NAMESRV, PUT/DELETE_KV_CONFIG,
	// UPDATE_NAMESRV_CONFIG); route queries pass unsigned.
	ScopeNameServer
)

// TraceTopic is RocketMQ's trace topic: any valid account may publish to it.
const TraceTopic = "RMQ_SYS_TRACE_TOPIC"

// Options configure a Checker. The zero value audits admin actions and checks nothing.
type Options struct {
	// Path is the ACL file (plain_acl.yml). "" turns ACL off: requests are not checked, but
	// admin actions are still audited.
	Path string
	// Scope: ScopeBroker (default) or ScopeNameServer.
	Scope Scope
	// ReloadInterval is how often Path is read again; a changed file replaces the rules, a bad
	// one is logged and the previous rules stay. Default 1 s; negative disables reloading.
	ReloadInterval time.Duration
	// Logger receives reloads and reload failures. Default slog.Default().
	Logger *slog.Logger
	// Audit receives one line per admin action and per denial. Default Logger.
	Audit *slog.Logger
	// OnDenial, if set, is called for every denial (metrics).
	OnDenial func(*Denial)
}

// Reason classifies a denial.
type Reason uint8

// Denial reasons, in the order the checks run.
const (
	ReasonNoAccessKey      Reason = iota + 1 // no AccessKey field
	ReasonUnknownAccessKey                   // no account has that key
	ReasonBadSignature                       // signature missing or wrong
	ReasonNotAdmin                           // an admin code from a non-admin account
	ReasonNoPermission                       // a topic or group permission is missing
)

var reasonNames = [...]string{"", "no_access_key", "unknown_access_key", "bad_signature", "not_admin", "no_permission"}

// String returns the reason as a metric label: no_access_key, unknown_access_key,
// bad_signature, not_admin, no_permission.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && r > 0 {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// ErrDenied matches every *Denial with errors.Is.
var ErrDenied = errors.New("acl: denied")

// Denial is a refused request. Its Error is RocketMQ's message, sent as the response remark.
type Denial struct {
	Reason    Reason
	Code      remoting.RequestCode
	AccessKey string
	Remote    string // client address
	Message   string
}

func (d *Denial) Error() string        { return d.Message }
func (d *Denial) Is(target error) bool { return target == ErrDenied }

// Request is what the checks need of a request, whatever front end it came through.
type Request struct {
	Code   remoting.RequestCode
	Fields remoting.Fields
	Body   []byte
	// Remote is the client's address; its IP is matched against white lists.
	Remote netip.Addr
	// RemoteString is the address as logged.
	RemoteString string
	// Verify, if set, checks the signature in place of the remoting recipe (Fields and Body):
	// a front end with its own scheme (gRPC's MQv2-HMAC-SHA1) verifies it with the secret key of
	// the account named by the AccessKey field. It must compare in constant time.
	Verify func(secretKey []byte) bool
	// Action, if set, names the request in the audit log in place of Code.
	Action string
}

// what is the request as audited.
func (r *Request) what() string {
	if r.Action != "" {
		return r.Action
	}
	return r.Code.String()
}

// Checker checks requests against the rules of an ACL file and audits admin actions and
// denials. It implements remoting.Interceptor. Close stops its reload goroutine.
type Checker struct {
	opts    Options
	log     *slog.Logger
	audit   *slog.Logger
	rules   atomic.Pointer[Rules] // nil when ACL is off
	denials [len(reasonNames)]atomic.Uint64

	reloadMu sync.Mutex // guards lastData
	lastData []byte     // content of the file behind rules

	closeOnce sync.Once
	quit      chan struct{}
	done      chan struct{}
}

var _ remoting.Interceptor = (*Checker)(nil)

// New returns a Checker. With a Path, the file must exist and be valid.
func New(opts Options) (*Checker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Audit == nil {
		opts.Audit = opts.Logger
	}
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = time.Second
	}
	c := &Checker{opts: opts, log: opts.Logger, audit: opts.Audit, quit: make(chan struct{}), done: make(chan struct{})}
	if opts.Path == "" {
		close(c.done)
		return c, nil
	}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	if opts.ReloadInterval < 0 {
		close(c.done)
		return c, nil
	}
	go c.reloadLoop()
	return c, nil
}

// Enabled reports whether requests are checked (a Path was given).
func (c *Checker) Enabled() bool { return c.rules.Load() != nil }

// Rules returns the rules in force, or nil when ACL is off.
func (c *Checker) Rules() *Rules { return c.rules.Load() }

// Denials returns how many requests were denied for reason r.
func (c *Checker) Denials(r Reason) uint64 {
	if int(r) >= len(c.denials) {
		return 0
	}
	return c.denials[r].Load()
}

// Reload reads the file now. It reports whether the rules changed; on an error the previous
// rules stay in force.
func (c *Checker) Reload() (bool, error) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	data, err := readCapped(c.opts.Path)
	if err != nil {
		return false, fmt.Errorf("acl: read %s: %w", c.opts.Path, err)
	}
	if c.rules.Load() != nil && bytes.Equal(data, c.lastData) {
		return false, nil
	}
	r, err := Parse(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.opts.Path, err)
	}
	c.rules.Store(r)
	c.lastData = data
	return true, nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c *Checker) reloadLoop() {
	defer close(c.done)
	t := time.NewTicker(c.opts.ReloadInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		changed, err := c.Reload()
		switch {
		case err != nil:
			// Log a failure once, not every tick.
			if err.Error() != lastErr {
				c.log.Error("acl: reload failed; the previous rules stay in force", "path", c.opts.Path, "err", err)
			}
			lastErr = err.Error()
		case changed:
			lastErr = ""
			c.log.Info("acl: rules reloaded", "path", c.opts.Path, "accounts", c.rules.Load().NumAccounts())
		}
	}
}

// Close stops reloading. Later calls return ErrClosed.
func (c *Checker) Close() error {
	err := ErrClosed
	c.closeOnce.Do(func() {
		close(c.quit)
		err = nil
	})
	<-c.done
	return err
}

// Intercept checks a remoting request: nil lets it through, a NO_PERMISSION response refuses
// it. Admin actions that pass and every denial are written to the audit log.
func (c *Checker) Intercept(conn *remoting.Conn, req *remoting.Command) *remoting.Command {
	code := req.RequestCode()
	admin := IsAdminCode(code)
	rules := c.rules.Load()
	if rules == nil && !admin {
		return nil
	}
	if rules != nil && c.opts.Scope == ScopeNameServer && !nameServerChecks(code) {
		rules = nil
		if !admin {
			return nil
		}
	}
	r := Request{Code: code, Fields: req.ExtFields, Body: req.Body, RemoteString: conn.RemoteAddrString()}
	if ap, err := netip.ParseAddrPort(r.RemoteString); err == nil {
		r.Remote = ap.Addr().Unmap()
	} else if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		r.Remote, _ = netip.AddrFromSlice(ta.IP)
		r.Remote = r.Remote.Unmap()
	}
	var err error
	if rules != nil {
		err = c.check(rules, &r)
	}
	if err != nil {
		var d *Denial
		errors.As(err, &d)
		return remoting.NewResponse(req, remoting.ResponseNoPermission, d.Message)
	}
	if admin {
		c.auditAdmin(&r)
	}
	return nil
}

// Check checks r against the rules in force; nil when ACL is off. A refusal is a *Denial
// (errors.Is ErrDenied), already audited and counted.
func (c *Checker) Check(r *Request) error {
	rules := c.rules.Load()
	if rules == nil {
		return nil
	}
	return c.check(rules, r)
}

func (c *Checker) check(rules *Rules, r *Request) error {
	d := rules.validate(r)
	if d == nil {
		return nil
	}
	c.denials[d.Reason].Add(1)
	c.audit.Warn("audit: request denied", "who", orDash(d.AccessKey), "from", d.Remote,
		"what", r.what(), "reason", d.Reason.String(), "remark", d.Message)
	if c.opts.OnDenial != nil {
		c.opts.OnDenial(d)
	}
	return d
}

func (c *Checker) auditAdmin(r *Request) {
	attrs := make([]any, 0, 8+2*len(r.Fields))
	who, _ := r.Fields.Get(FieldAccessKey)
	attrs = append(attrs, "who", orDash(who), "from", r.RemoteString, "what", r.Code.String())
	for _, f := range r.Fields {
		switch f.Key {
		case FieldAccessKey, FieldSignature, FieldSecurityToken:
			continue
		}
		attrs = append(attrs, f.Key, f.Value)
	}
	c.audit.Info("audit: admin action", attrs...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// validate is RocketMQ's PlainPermissionManager.validate plus mqstore's admin codes; nil
// means allowed.
func (rules *Rules) validate(r *Request) *Denial {
	deny := func(reason Reason, ak, format string, args ...any) *Denial {
		return &Denial{Reason: reason, Code: r.Code, AccessKey: ak, Remote: r.RemoteString, Message: fmt.Sprintf(format, args...)}
	}
	if r.Remote.IsValid() && rules.globalWhite(r.Remote) {
		return nil
	}
	ak, ok := r.Fields.Get(FieldAccessKey)
	if !ok || ak == "" {
		return deny(ReasonNoAccessKey, "", "No accessKey is configured")
	}
	acc, ok := rules.accounts[ak]
	if !ok {
		return deny(ReasonUnknownAccessKey, ak, "No acl config for %s", ak)
	}
	if r.Remote.IsValid() && acc.white.match(r.Remote) {
		return nil
	}
	sig, _ := r.Fields.Get(FieldSignature)
	if r.Verify != nil && !r.Verify(acc.secretKey) || r.Verify == nil && !acc.verify(sig, r.Fields, r.Body) {
		return deny(ReasonBadSignature, ak, "Check signature failed for accessKey=%s", ak)
	}
	if IsAdminCode(r.Code) && !acc.admin {
		return deny(ReasonNotAdmin, ak, "Need admin permission for request code=%d, but accessKey=%s is not", r.Code, ak)
	}
	var buf [4]resource
	needed, err := resources(r, buf[:0])
	if err != nil {
		return deny(ReasonNoPermission, ak, "Cannot check the permissions of request code=%d: %v", r.Code, err)
	}
	if len(needed) == 1 && needed[0].name == TraceTopic && needed[0].perm == PermPub {
		return nil
	}
	if acc.perms == nil && acc.admin {
		return nil
	}
	for _, n := range needed {
		group := strings.HasPrefix(n.name, RetryGroupPrefix)
		owned, listed := acc.perms[n.name]
		if !listed {
			owned = acc.defaultTopic
			if group {
				owned = acc.defaultGroup
			}
		}
		if owned.Allows(n.perm) {
			continue
		}
		what := "topic:" + n.name
		if group {
			what = "group:" + strings.TrimPrefix(n.name, RetryGroupPrefix)
		}
		if listed {
			return deny(ReasonNoPermission, ak, "No permission for %s (needs %s, has %s)", what, n.perm, owned)
		}
		return deny(ReasonNoPermission, ak, "No default permission for %s (needs %s)", what, n.perm)
	}
	return nil
}

// resource is a topic, or a group as RetryGroupPrefix+name, with the permission a request needs.
type resource struct {
	name string
	perm Perm
}

// resources lists what r needs, as RocketMQ's PlainAccessValidator.parse does (5.x, so
// SEND_BATCH_MESSAGE is checked as SEND_MESSAGE_V2 is).
func resources(r *Request, out []resource) ([]resource, error) {
	f := r.Fields
	topic := func(key string, p Perm) {
		if v, ok := f.Get(key); ok && v != "" {
			out = append(out, resource{v, p})
		}
	}
	group := func(key string) {
		if v, ok := f.Get(key); ok && v != "" {
			out = append(out, resource{RetryGroupPrefix + v, PermSub})
		}
	}
	send := func(topicKey, groupKey string) {
		t, _ := f.Get(topicKey)
		if strings.HasPrefix(t, RetryGroupPrefix) {
			group(groupKey)
			return
		}
		topic(topicKey, PermPub)
	}
	switch r.Code {
	case remoting.RequestSendMessage, remoting.RequestSendReplyMessage:
		send("topic", "group")
	case remoting.RequestSendMessageV2, remoting.RequestSendBatchMessage, remoting.RequestSendReplyMessageV2:
		send("b", "a")
	case remoting.RequestConsumerSendMsgBack:
		group("group")
	case remoting.RequestPullMessage:
		topic("topic", PermSub)
		group("consumerGroup")
	case remoting.RequestQueryMessage:
		topic("topic", PermSub)
	case remoting.RequestHeartBeat:
		var hb protocol.HeartbeatData
		if len(r.Body) > 0 {
			if err := json.Unmarshal(r.Body, &hb); err != nil {
				return out, fmt.Errorf("heartbeat body: %w", err)
			}
		}
		for _, cd := range hb.ConsumerDataSet {
			if cd.GroupName != "" {
				out = append(out, resource{RetryGroupPrefix + cd.GroupName, PermSub})
			}
			for _, sd := range cd.SubscriptionDataSet {
				if sd.Topic != "" {
					out = append(out, resource{sd.Topic, PermSub})
				}
			}
		}
	case remoting.RequestUnregisterClient, remoting.RequestGetConsumerListByGroup:
		group("consumerGroup")
	case remoting.RequestUpdateConsumerOffset:
		group("consumerGroup")
		topic("topic", PermSub)
	}
	return out, nil
}
