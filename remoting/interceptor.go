package remoting

// Interceptor sees every request a Server (or Client) is about to serve, before its handler
// runs, on the handler's worker: access control (the acl package) and auditing plug in here.
//
// Intercept returns nil to let the handler run, or the response to write instead (a denial,
// made with NewResponse). The connection stays open either way, so a client that was refused
// one request keeps working for the requests it may make. req must not be kept or modified.
// Requests with no handler are answered REQUEST_CODE_NOT_SUPPORTED without reaching the
// Interceptor.
type Interceptor interface {
	Intercept(c *Conn, req *Command) *Command
}

// InterceptorFunc adapts a function to Interceptor.
type InterceptorFunc func(c *Conn, req *Command) *Command

// Intercept calls f.
func (f InterceptorFunc) Intercept(c *Conn, req *Command) *Command { return f(c, req) }
