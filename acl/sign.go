package acl

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"hash"
	"slices"
	"strings"
	"sync"

	"github.com/mqstore/mqstore/remoting"
)

// Extension fields of a signed request (RocketMQ's SessionCredentials).
const (
	FieldAccessKey     = "AccessKey"
	FieldSignature     = "Signature"
	FieldSecurityToken = "SecurityToken"
	// fieldUniqueKeyQuery is added by RocketMQ's admin tools after signing; left out of the
	// signed content (apache/rocketmq#1216).
	fieldUniqueKeyQuery = "_UNIQUE_KEY_QUERY"
)

// signatureLen is the length of a base64 HMAC-SHA1.
const signatureLen = 28

// Sign returns the signature of a request with extension fields fields (any Signature among
// them is skipped) and body, under secretKey: base64(HMAC-SHA1(secretKey, values of the fields
// sorted by key, then body)). The caller sets AccessKey (and SecurityToken) in fields first.
func Sign(secretKey string, fields remoting.Fields, body []byte) string {
	mac := hmac.New(sha1.New, []byte(secretKey))
	var sum [sha1.Size]byte
	writeContent(mac, fields, body, 0)
	return base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
}

// SignCommand sets AccessKey (and SecurityToken if not empty) and Signature on cmd.
func SignCommand(cmd *remoting.Command, accessKey, secretKey, securityToken string) {
	cmd.ExtFields.Del(FieldSignature)
	cmd.SetExt(FieldAccessKey, accessKey)
	if securityToken != "" {
		cmd.SetExt(FieldSecurityToken, securityToken)
	}
	cmd.SetExt(FieldSignature, Sign(secretKey, cmd.ExtFields, cmd.Body))
}

// Content exclusions, a bit set of writeContent.
const (
	skipUniqueKeyQuery = 1 << iota
	skipSecurityToken
)

// writeContent writes the signed content to w: the values of fields sorted by key, minus
// Signature and the skipped ones, then body.
func writeContent(w hash.Hash, fields remoting.Fields, body []byte, skip int) {
	var idx [32]int
	order := idx[:0]
	for i := range fields {
		switch fields[i].Key {
		case FieldSignature:
			continue
		case fieldUniqueKeyQuery:
			if skip&skipUniqueKeyQuery != 0 {
				continue
			}
		case FieldSecurityToken:
			if skip&skipSecurityToken != 0 {
				continue
			}
		}
		order = append(order, i)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(fields[a].Key, fields[b].Key) })
	for _, i := range order {
		w.Write(stringBytes(fields[i].Value))
	}
	w.Write(body)
}

// macPool pools HMAC-SHA1 states keyed with one secret key.
type macPool struct {
	key  []byte
	pool sync.Pool
}

func (p *macPool) get() hash.Hash {
	if h, ok := p.pool.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(sha1.New, p.key)
}

func (p *macPool) put(h hash.Hash) { p.pool.Put(h) }

// verify reports whether signature is the account's signature of fields and body. It accepts
// the content with and without _UNIQUE_KEY_QUERY and SecurityToken when they are present (see
// the package comment); each comparison is constant-time.
func (a *account) verify(signature string, fields remoting.Fields, body []byte) bool {
	var got [sha1.Size + 2]byte
	if len(signature) != signatureLen {
		return false
	}
	n, err := base64.StdEncoding.Decode(got[:], stringBytes(signature))
	if err != nil || n != sha1.Size {
		return false
	}
	_, hasUnique := fields.Get(fieldUniqueKeyQuery)
	_, hasToken := fields.Get(FieldSecurityToken)
	h := a.macs.get()
	defer a.macs.put(h)
	var sum [sha1.Size]byte
	for skip := range 4 {
		if skip&skipUniqueKeyQuery != 0 && !hasUnique || skip&skipSecurityToken != 0 && !hasToken {
			continue
		}
		h.Reset()
		writeContent(h, fields, body, skip^skipUniqueKeyQuery)
		if hmac.Equal(h.Sum(sum[:0]), got[:n]) {
			return true
		}
	}
	return false
}

// Signer returns a remoting.Options.OnSend hook that signs every request with the account's
// keys; nil if either key is empty (nothing to sign with).
func Signer(accessKey, secretKey string) func(*remoting.Command) {
	if accessKey == "" || secretKey == "" {
		return nil
	}
	return func(cmd *remoting.Command) { SignCommand(cmd, accessKey, secretKey, "") }
}
