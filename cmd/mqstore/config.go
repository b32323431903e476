package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mqstore/mqstore/broker"
)

// settings is the effective configuration of a run: the broker's keys plus the process's own.
type settings struct {
	broker broker.Config
	// sources says where each broker key's value came from (default, file, env, flag).
	sources map[string]string
	// notices are the warnings about the configuration, one per key, logged at start.
	notices []notice

	configFile    string
	printConfig   bool
	version       bool
	help          bool
	namesrvListen string // address of the embedded name server ("" = none)
	// namesrvListenSet: -namesrv-listen (or its variable) was given; otherwise a name server is
	// embedded only when namesrvAddr is empty.
	namesrvListenSet bool
	metricsAddr      string
	logFormat        string
	logLevel         string
	pprof            bool
	consoleEnable    bool // the web console on the metrics address (console.go)
}

// notice is one configuration warning.
type notice struct {
	key, source, text string
}

// Default ports of the processes' own listeners; their host is bindAddress.
const (
	defaultNamesrvPort = "9876"
	defaultMetricsPort = "5557"
)

// processFlag is a flag of the process (not a broker key).
type processFlag struct {
	isBool bool
	usage  string
	set    func(s *settings, v string) error
	env    string // its environment variable, "" for none
}

func boolValue(dst *bool) func(*settings, string) error {
	return func(_ *settings, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*dst = b
		return nil
	}
}

// processFlags are bound to a settings value.
func (s *settings) processFlags() map[string]processFlag {
	return map[string]processFlag{
		"c":            {usage: "broker.conf-style properties file (RocketMQ key names)", set: func(s *settings, v string) error { s.configFile = v; return nil }},
		"print-config": {isBool: true, usage: "print the effective configuration, with each value's source, and exit", set: boolValue(&s.printConfig)},
		"version":      {isBool: true, usage: "print the version and exit", set: boolValue(&s.version)},
		"h":            {isBool: true, usage: "print this help and exit", set: boolValue(&s.help)},
		"help":         {isBool: true, usage: "print this help and exit", set: boolValue(&s.help)},
		"namesrv-listen": {usage: "run an embedded name server on this address (\":9876\" = bindAddress:9876; \"\" = none). Default: embedded on bindAddress:9876 only when namesrvAddr is empty",
			set: func(s *settings, v string) error { s.namesrvListen, s.namesrvListenSet = v, true; return nil }, env: "MQSTORE_NAMESRV_LISTEN"},
		"metrics-addr": {usage: "Prometheus metrics and health address (\":5557\" = bindAddress:5557; \"\" = off)",
			set: func(s *settings, v string) error { s.metricsAddr = v; return nil }, env: "MQSTORE_METRICS_ADDR"},
		"log-format": {usage: "log format: text or json", set: func(s *settings, v string) error { s.logFormat = v; return nil }, env: "MQSTORE_LOG_FORMAT"},
		"log-level":  {usage: "log level: debug, info, warn, error", set: func(s *settings, v string) error { s.logLevel = v; return nil }, env: "MQSTORE_LOG_LEVEL"},
		"pprof":      {isBool: true, usage: "serve /debug/pprof on the metrics address", set: boolValue(&s.pprof)},
		"consoleEnable": {isBool: true, usage: "serve the web console under /console/ on the metrics address (default true)",
			set: boolValue(&s.consoleEnable), env: "MQSTORE_CONSOLE_ENABLE"},
	}
}

// envPrefix prefixes the environment variables that set broker keys: MQSTORE_ and the key in
// upper snake case (storePathRootDir → MQSTORE_STORE_PATH_ROOT_DIR, brokerIP1 → MQSTORE_BROKER_IP1).
const envPrefix = "MQSTORE_"

// envName returns the environment variable of a broker key. An upper-case letter starts a new
// word after a lower-case letter, or before a lower-case one (IPAddr → IP_ADDR).
func envName(key string) string {
	var b strings.Builder
	b.WriteString(envPrefix)
	r := []rune(key)
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// setting is one key=value from a source, applied in order.
type setting struct {
	key, value, source string
}

// loadSettings applies, lowest precedence first: defaults, the properties file (-c), the
// environment (MQSTORE_…), then command-line flags. Every problem of every source is reported
// in one error (one line each); warnings go to s.notices.
func loadSettings(args []string, environ []string) (*settings, error) {
	s := &settings{broker: broker.DefaultConfig(), sources: map[string]string{}, logFormat: "text", logLevel: "info", consoleEnable: true,
		metricsAddr: ":" + defaultMetricsPort}
	for _, k := range broker.Keys() {
		s.sources[k] = "default"
	}
	var problems []string
	flags := s.processFlags()
	keyFlags, setFlags, errs := parseArgs(args, flags, s)
	problems = append(problems, errs...)
	if s.help || s.version {
		return s, nil
	}

	var all []setting
	if s.configFile != "" {
		fileSettings, errs := readPropertiesFile(s.configFile)
		problems = append(problems, errs...)
		all = append(all, fileSettings...)
	}
	all = append(all, s.fromEnv(environ, flags, setFlags)...)
	all = append(all, keyFlags...)
	// Keys that depend on others go last.
	late := func(st setting) bool { return slices.Contains(broker.LateKeys, st.key) }
	ordered := append(slices.DeleteFunc(slices.Clone(all), late), slices.DeleteFunc(slices.Clone(all), func(st setting) bool { return !late(st) })...)

	noticeOf := map[string]int{}
	for _, st := range ordered {
		text, err := s.broker.Apply(st.key, st.value)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", st.source, err))
			continue
		}
		if _, ok := s.sources[st.key]; ok {
			s.sources[st.key] = strings.Fields(st.source)[0]
		}
		if i, ok := noticeOf[st.key]; ok {
			s.notices = slices.Delete(s.notices, i, i+1)
			for k, j := range noticeOf {
				if j > i {
					noticeOf[k] = j - 1
				}
			}
			delete(noticeOf, st.key)
		}
		if text != "" {
			noticeOf[st.key] = len(s.notices)
			s.notices = append(s.notices, notice{key: st.key, source: st.source, text: text})
		}
	}
	if err := s.broker.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	switch s.logFormat {
	case "text", "json":
	default:
		problems = append(problems, fmt.Sprintf("-log-format %q: want text or json", s.logFormat))
	}
	if len(problems) > 0 {
		return nil, &configError{problems}
	}
	if ip := net.ParseIP(s.broker.BindAddress); ip != nil && !ip.IsLoopback() {
		if bip := net.ParseIP(s.broker.BrokerIP1); bip != nil && bip.IsLoopback() {
			s.notices = append(s.notices, notice{key: "brokerIP1", source: "bindAddress=" + s.broker.BindAddress,
				text: "the ports are open to other machines, but brokerIP1=" + s.broker.BrokerIP1 + " is the address clients are told: set brokerIP1 to an address they reach"})
		}
	}
	return s, nil
}

// configError lists every problem of a configuration.
type configError struct{ problems []string }

func (e *configError) Error() string {
	if len(e.problems) == 1 {
		return e.problems[0]
	}
	return fmt.Sprintf("%d configuration problems:\n  %s", len(e.problems), strings.Join(e.problems, "\n  "))
}

// parseArgs reads -flag value, -flag=value, --flag, and bare boolean flags. Process flags are set
// on s; broker keys are returned in order. Every unknown flag is reported, with a suggestion.
func parseArgs(args []string, flags map[string]processFlag, s *settings) (keys []setting, set map[string]bool, problems []string) {
	set = map[string]bool{}
	isValue := func(i int) bool { // args[i] is a value, not the next flag
		if i >= len(args) {
			return false
		}
		if !strings.HasPrefix(args[i], "-") || args[i] == "-" {
			return true
		}
		_, err := strconv.ParseFloat(args[i], 64) // -1 is a value
		return err == nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			problems = append(problems, fmt.Sprintf("unexpected argument %q (flags are -key value; mqstore -h lists them)", a))
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		source := "flag -" + name
		if f, ok := flags[name]; ok {
			if !hasValue {
				switch {
				case f.isBool && i+1 < len(args) && isBoolText(args[i+1]):
					i++
					value = args[i]
				case f.isBool:
					value = "true"
				case i+1 < len(args):
					i++
					value = args[i]
				default:
					problems = append(problems, fmt.Sprintf("%s: needs a value", source))
					continue
				}
			}
			if err := f.set(s, value); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", source, err))
			}
			set[name] = true
			continue
		}
		if broker.Known(name) {
			if !hasValue {
				switch {
				case broker.IsBool(name) && i+1 < len(args) && isBoolText(args[i+1]):
					i++
					value = args[i]
				case broker.IsBool(name):
					value = "true"
				case isValue(i + 1):
					i++
					value = args[i]
				default:
					value = "true" // a RocketMQ key given bare: a boolean switch
				}
			}
			keys = append(keys, setting{key: name, value: value, source: source})
			continue
		}
		candidates := broker.Keys()
		for k := range flags {
			candidates = append(candidates, k)
		}
		hint := ""
		if n := broker.Nearest(name, append(candidates, broker.RocketMQKeys()...)); n != "" {
			hint = fmt.Sprintf(" (did you mean -%s?)", n)
		}
		problems = append(problems, fmt.Sprintf("%s: unknown flag%s", source, hint))
		if !hasValue && isValue(i+1) {
			i++ // its value
		}
	}
	return keys, set, problems
}

func isBoolText(v string) bool {
	_, err := strconv.ParseBool(v)
	return err == nil
}

// fromEnv returns the broker keys set in the environment and applies the process variables
// (a flag given on the command line beats its variable). An MQSTORE_ variable that is neither
// is a notice, not an error: the environment is shared with everything else a user runs.
func (s *settings) fromEnv(environ []string, flags map[string]processFlag, setFlags map[string]bool) []setting {
	envKeys := map[string]string{}
	for _, k := range append(broker.Keys(), broker.RocketMQKeys()...) {
		envKeys[envName(k)] = k
	}
	processEnv := map[string]string{}
	for name, f := range flags {
		if f.env != "" {
			processEnv[f.env] = name
		}
	}
	var out []setting
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if key, ok := envKeys[name]; ok {
			out = append(out, setting{key: key, value: value, source: "env " + name})
			continue
		}
		if flag, ok := processEnv[name]; ok {
			if !setFlags[flag] {
				flags[flag].set(s, value)
			}
			continue
		}
		names := make([]string, 0, len(envKeys)+len(processEnv))
		for n := range envKeys {
			names = append(names, n)
		}
		for n := range processEnv {
			names = append(names, n)
		}
		text := "not an mqstore setting; ignored (broker keys are " + envPrefix + "<KEY_IN_SNAKE_CASE>, e.g. MQSTORE_STORE_PATH_ROOT_DIR)"
		if n := broker.Nearest(name, names); n != "" {
			text = fmt.Sprintf("not an mqstore setting; ignored (did you mean %s?)", n)
		}
		s.notices = append(s.notices, notice{key: name, source: "env " + name, text: text})
	}
	return out
}

// readPropertiesFile reads a broker.conf-style properties file: key=value lines, '#' or '!'
// comments, blank lines ignored; a key may also be separated by ':' or a blank, as Java
// properties allow. It returns the settings in file order and every malformed line.
func readPropertiesFile(path string) ([]setting, []string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []string{fmt.Sprintf("config file: %v", err)}
	}
	defer f.Close()
	var out []setting
	var problems []string
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		i := strings.IndexAny(text, "=: \t")
		if i < 0 {
			problems = append(problems, fmt.Sprintf("%s:%d: %q is not key=value", path, line, text))
			continue
		}
		key := strings.TrimSpace(text[:i])
		value := strings.TrimSpace(strings.TrimLeft(text[i:], "=: \t"))
		out = append(out, setting{key: key, value: value, source: fmt.Sprintf("file %s:%d", path, line)})
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("config file: %v", err))
	}
	return out, problems
}

// hostPort resolves a listen address: a port alone (":9876") binds bindAddress.
func (s *settings) hostPort(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return net.JoinHostPort(s.broker.BindAddress, addr[1:])
	}
	return addr
}

// print writes the effective configuration, one key=value per line with its source.
func (s *settings) print(w io.Writer) {
	for _, k := range broker.Keys() {
		v, _ := s.broker.Get(k)
		fmt.Fprintf(w, "%s=%s\t# %s\n", k, v, s.sources[k])
	}
	ns := "(none)"
	if addr, ok := s.embeddedNamesrv(); ok {
		ns = addr
	}
	fmt.Fprintf(w, "# process: namesrv-listen=%s metrics-addr=%s log-format=%s log-level=%s pprof=%v\n",
		ns, orNone(s.hostPort(s.metricsAddr)), s.logFormat, s.logLevel, s.pprof)
}

// embeddedNamesrv returns where the embedded name server listens, if one runs: where
// -namesrv-listen says, or bindAddress:9876 when namesrvAddr is empty (as a RocketMQ broker
// without namesrvAddr, which needs a name server on the same machine).
func (s *settings) embeddedNamesrv() (string, bool) {
	if s.namesrvListenSet {
		return s.hostPort(s.namesrvListen), s.namesrvListen != ""
	}
	if strings.TrimSpace(s.broker.NamesrvAddr) == "" {
		return net.JoinHostPort(s.broker.BindAddress, defaultNamesrvPort), true
	}
	return "", false
}

// usage is mqstore -h.
func usage(w io.Writer) {
	fmt.Fprint(w, `usage: mqstore [-c broker.conf] [-<key> value ...] [flags]
       mqstore namesrv [-listen 127.0.0.1:9876]

mqstore runs a RocketMQ-compatible broker. Settings, lowest precedence first: defaults, the
properties file (-c, RocketMQ's broker.conf keys), the environment (MQSTORE_<KEY_IN_SNAKE_CASE>),
flags (-<key> value, -<key>=value; a boolean key alone means true).

Every port binds bindAddress, 127.0.0.1 unless set: nothing is reachable from other machines
until bindAddress=0.0.0.0 (RocketMQ binds every interface by default). brokerIP1 is the address
clients are told, not what is bound.

Name servers: with namesrvAddr empty, an embedded name server listens on bindAddress:9876 and
the broker registers with it. With namesrvAddr=a:9876;b:9876 the broker registers with each of
them and embeds none, unless -namesrv-listen asks for one.

Flags:
`)
	s := &settings{}
	flags := s.processFlags()
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		arg := " value"
		if flags[n].isBool {
			arg = ""
		}
		env := ""
		if flags[n].env != "" {
			env = " [" + flags[n].env + "]"
		}
		fmt.Fprintf(w, "  -%s%s\n      %s%s\n", n, arg, flags[n].usage, env)
	}
	fmt.Fprint(w, "\nBroker keys (RocketMQ's names):\n")
	def := broker.DefaultConfig()
	for _, k := range broker.Keys() {
		d, _ := broker.Doc(k)
		v, _ := def.Get(k)
		if v == "" {
			v = `""`
		}
		arg := " value"
		unit := ""
		switch d.Unit {
		case "bool":
			arg = ""
		case "ms":
			unit = "milliseconds, or a duration like 5s; "
		case "hours":
			unit = "hours, or a duration like 72h; "
		case "bytes":
			unit = "bytes, or a size like 512m, 1g; "
		case "percent":
			unit = "percent; "
		}
		fmt.Fprintf(w, "  -%s%s\n      %s (%sdefault %s) [%s]\n", k, arg, d.Meaning, unit, v, envName(k))
	}
	fmt.Fprintf(w, `
The other %d keys of RocketMQ 4.9 and 5.x brokers (brokerRole, brokerIP2, haListenPort,
sendMessageThreadPoolNums, ...) are accepted with one warning each saying what mqstore does
instead. Refused with the reason: brokerRole=SLAVE, enableDLegerCommitLog=true,
enableControllerMode=true, aclEnable=true, and a storePathCommitLog outside storePathRootDir.
A misspelled key is refused with the nearest known key.
`, len(broker.RocketMQKeys()))
}
