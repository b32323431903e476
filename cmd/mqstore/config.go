package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/mqstore/mqstore/broker"
)

// settings is the effective configuration of a run: the broker's keys plus the process's own.
type settings struct {
	broker broker.Config
	// sources says where each broker key's value came from (default, file, env, flag).
	sources map[string]string

	configFile    string
	printConfig   bool
	namesrvListen string // address of the embedded name server ("" = none)
	metricsAddr   string
	logFormat     string
	logLevel      string
	pprof         bool
	consoleEnable bool // the web console on the metrics address (cmd/mqstore/console.go)
}

// envPrefix prefixes the environment variables that set broker keys: MQSTORE_ and the key in
// upper snake case (storePathRootDir → MQSTORE_STORE_PATH_ROOT_DIR).
const envPrefix = "MQSTORE_"

// envName returns the environment variable of a broker key.
func envName(key string) string {
	var b strings.Builder
	b.WriteString(envPrefix)
	for i, r := range key {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// processEnv are MQSTORE_ variables that are not broker keys.
var processEnv = map[string]bool{
	"MQSTORE_NAMESRV_LISTEN": true, "MQSTORE_METRICS_ADDR": true, "MQSTORE_LOG_FORMAT": true, "MQSTORE_LOG_LEVEL": true,
}

// loadSettings applies, lowest precedence first: defaults, the properties file (-c), the
// environment (MQSTORE_…), then command-line flags. Unknown keys and bad values are refused with
// the key's name.
func loadSettings(args []string, environ []string) (*settings, error) {
	s := &settings{broker: broker.DefaultConfig(), sources: map[string]string{}}
	for _, k := range broker.Keys() {
		s.sources[k] = "default"
	}
	fs := flag.NewFlagSet("mqstore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.configFile, "c", "", "broker.conf-style properties file (RocketMQ key names)")
	fs.BoolVar(&s.printConfig, "print-config", false, "print the effective configuration and exit")
	fs.StringVar(&s.namesrvListen, "namesrv-listen", "127.0.0.1:9876", "listen address of the embedded name server (\"\" = do not embed one; brokers then use namesrvAddr)")
	fs.StringVar(&s.metricsAddr, "metrics-addr", "127.0.0.1:5557", "Prometheus metrics and health address (\"\" = off)")
	fs.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&s.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&s.pprof, "pprof", false, "serve /debug/pprof on the metrics address")
	fs.BoolVar(&s.consoleEnable, "consoleEnable", true, "serve the web console under /console/ on the metrics address")
	flagValues := map[string]string{}
	for _, k := range broker.Keys() {
		fs.Func(k, "broker key "+k, func(v string) error { flagValues[k] = v; return nil })
	}
	usage := func() string {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return b.String()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, fmt.Errorf("usage: mqstore [flags] | mqstore namesrv [flags]\n%s", usage())
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// Process flags given on the command line beat their environment variables.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if s.configFile != "" {
		if err := s.applyFile(s.configFile); err != nil {
			return nil, err
		}
	}
	envKeys := map[string]string{}
	for _, k := range broker.Keys() {
		envKeys[envName(k)] = k
	}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if key, ok := envKeys[name]; ok {
			if err := s.broker.Set(key, value); err != nil {
				return nil, fmt.Errorf("environment %s: %w", name, err)
			}
			s.sources[key] = "env"
			continue
		}
		switch {
		case name == "MQSTORE_NAMESRV_LISTEN" && !set["namesrv-listen"]:
			s.namesrvListen = value
		case name == "MQSTORE_METRICS_ADDR" && !set["metrics-addr"]:
			s.metricsAddr = value
		case name == "MQSTORE_LOG_FORMAT" && !set["log-format"]:
			s.logFormat = value
		case name == "MQSTORE_LOG_LEVEL" && !set["log-level"]:
			s.logLevel = value
		case processEnv[name]:
		default:
			return nil, fmt.Errorf("environment %s: unknown mqstore setting (broker keys are %s<KEY_IN_SNAKE_CASE>, e.g. MQSTORE_STORE_PATH_ROOT_DIR)", name, envPrefix)
		}
	}
	for _, k := range broker.Keys() {
		if v, ok := flagValues[k]; ok {
			if err := s.broker.Set(k, v); err != nil {
				return nil, fmt.Errorf("flag -%s: %w", k, err)
			}
			s.sources[k] = "flag"
		}
	}
	if err := s.broker.Validate(); err != nil {
		return nil, err
	}
	switch s.logFormat {
	case "text", "json":
	default:
		return nil, fmt.Errorf("-log-format %q: want text or json", s.logFormat)
	}
	return s, nil
}

// applyFile reads a broker.conf-style properties file: key=value lines, '#' or '!' comments,
// blank lines ignored; a key may also be separated by ':' or a blank, as Java properties allow.
func (s *settings) applyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
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
			return fmt.Errorf("%s:%d: %q is not key=value", path, line, text)
		}
		key := strings.TrimSpace(text[:i])
		value := strings.TrimSpace(strings.TrimLeft(text[i:], "=: \t"))
		if err := s.broker.Set(key, value); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		s.sources[key] = "file"
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	return nil
}

// print writes the effective configuration, one key=value per line with its source.
func (s *settings) print(w io.Writer) {
	for _, k := range broker.Keys() {
		v, _ := s.broker.Get(k)
		fmt.Fprintf(w, "%s=%s\t# %s\n", k, v, s.sources[k])
	}
	fmt.Fprintf(w, "# process: namesrv-listen=%s metrics-addr=%s log-format=%s log-level=%s pprof=%v\n",
		s.namesrvListen, s.metricsAddr, s.logFormat, s.logLevel, s.pprof)
}
