package acl

// IsAdmin reports whether accessKey names an admin account (admin: true). The web console
// requires one for every write, whatever request code the write maps to.
func (r *Rules) IsAdmin(accessKey string) bool {
	a, ok := r.accounts[accessKey]
	return ok && a.admin
}
