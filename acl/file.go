package acl

import (
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"
)

// RetryGroupPrefix prefixes a group's name where it is a resource: RocketMQ stores group
// permissions under the group's retry topic, so "%RETRY%g" names group g.
const RetryGroupPrefix = "%RETRY%"

// MinKeyLength: access and secret keys must be longer than this (RocketMQ's check).
const MinKeyLength = 6

// maxFileSize caps the ACL file that is read.
const maxFileSize = 4 << 20

// File is plain_acl.yml as written. Unknown keys are ignored (RocketMQ 4.9 writes a
// dataVersion key into the file it manages).
type File struct {
	GlobalWhiteRemoteAddresses []string  `yaml:"globalWhiteRemoteAddresses"`
	Accounts                   []Account `yaml:"accounts"`
}

// Account is one entry of File.Accounts.
type Account struct {
	AccessKey          string   `yaml:"accessKey"`
	SecretKey          string   `yaml:"secretKey"`
	WhiteRemoteAddress string   `yaml:"whiteRemoteAddress"`
	Admin              bool     `yaml:"admin"`
	DefaultTopicPerm   string   `yaml:"defaultTopicPerm"`
	DefaultGroupPerm   string   `yaml:"defaultGroupPerm"`
	TopicPerms         []string `yaml:"topicPerms"`
	GroupPerms         []string `yaml:"groupPerms"`
}

// Rules are a parsed and validated ACL file. They are immutable.
type Rules struct {
	global   []addressPattern
	accounts map[string]*account
}

// account is an Account ready for checks.
type account struct {
	accessKey    string
	secretKey    []byte
	white        addressPattern
	admin        bool
	defaultTopic Perm
	defaultGroup Perm
	// perms holds topicPerms by topic name and groupPerms by RetryGroupPrefix+group; nil when
	// the account lists neither.
	perms map[string]Perm
	// macs pools HMAC-SHA1 states keyed with secretKey.
	macs macPool
}

// Parse parses and validates an ACL file. An empty document has no accounts and no white list.
func Parse(data []byte) (*Rules, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadFile, len(data), maxFileSize)
	}
	var f File
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFile, err)
	}
	return f.Rules()
}

// Rules validates f and builds its Rules.
func (f *File) Rules() (*Rules, error) {
	r := &Rules{accounts: make(map[string]*account, len(f.Accounts))}
	for _, s := range f.GlobalWhiteRemoteAddresses {
		p, err := parseAddressPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%w: globalWhiteRemoteAddresses: %w", ErrBadFile, err)
		}
		r.global = append(r.global, p)
	}
	for i, a := range f.Accounts {
		acc, err := a.build()
		if err != nil {
			return nil, fmt.Errorf("%w: accounts[%d]: %w", ErrBadFile, i, err)
		}
		if _, dup := r.accounts[acc.accessKey]; dup {
			return nil, fmt.Errorf("%w: accounts[%d]: duplicate accessKey %q", ErrBadFile, i, acc.accessKey)
		}
		r.accounts[acc.accessKey] = acc
	}
	return r, nil
}

func (a *Account) build() (*account, error) {
	ak, sk := strings.TrimSpace(a.AccessKey), strings.TrimSpace(a.SecretKey)
	if len(ak) <= MinKeyLength {
		return nil, fmt.Errorf("accessKey %q must be longer than %d characters", ak, MinKeyLength)
	}
	if len(sk) <= MinKeyLength {
		return nil, fmt.Errorf("secretKey of accessKey %q must be longer than %d characters", ak, MinKeyLength)
	}
	white, err := parseAddressPattern(a.WhiteRemoteAddress)
	if err != nil {
		return nil, fmt.Errorf("whiteRemoteAddress: %w", err)
	}
	acc := &account{
		accessKey:    ak,
		secretKey:    []byte(sk),
		white:        white,
		admin:        a.Admin,
		defaultTopic: ParsePerm(a.DefaultTopicPerm),
		defaultGroup: ParsePerm(a.DefaultGroupPerm),
	}
	acc.macs.key = acc.secretKey
	if len(a.TopicPerms)+len(a.GroupPerms) > 0 {
		acc.perms = make(map[string]Perm, len(a.TopicPerms)+len(a.GroupPerms))
	}
	for _, list := range []struct {
		name   string
		prefix string
		items  []string
	}{{"topicPerms", "", a.TopicPerms}, {"groupPerms", RetryGroupPrefix, a.GroupPerms}} {
		for _, item := range list.items {
			name, perm, ok := strings.Cut(item, "=")
			name = strings.TrimSpace(name)
			if !ok || name == "" || strings.Contains(perm, "=") {
				return nil, fmt.Errorf("%s: %q is not name=PERM", list.name, item)
			}
			acc.perms[list.prefix+name] = ParsePerm(perm)
		}
	}
	return acc, nil
}

// globalWhite reports whether ip is in globalWhiteRemoteAddresses.
func (r *Rules) globalWhite(ip netip.Addr) bool {
	for i := range r.global {
		if r.global[i].match(ip) {
			return true
		}
	}
	return false
}

// NumAccounts returns the number of accounts.
func (r *Rules) NumAccounts() int { return len(r.accounts) }

// SecretKey returns the secret key of accessKey, for verifying signatures of other schemes
// (the gRPC front end's MQv2-HMAC-SHA1); false if there is no such account.
func (r *Rules) SecretKey(accessKey string) ([]byte, bool) {
	a, ok := r.accounts[accessKey]
	if !ok {
		return nil, false
	}
	return a.secretKey, true
}
