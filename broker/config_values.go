package broker

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Value forms of broker.conf keys. RocketMQ reads every duration as a plain number in the key's
// unit (milliseconds, or hours for fileReservedTime) and every size as a plain number of bytes;
// mqstore reads those the same way and also Go durations (500ms, 5s, 72h) and sizes with a
// binary suffix (64k, 512m, 1g, 1GiB). Get always answers RocketMQ's plain form.

// parseMillis reads a millisecond key: "5000" or a Go duration ("5s"), rounded down to whole ms.
func parseMillis(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("want milliseconds (5000) or a duration (5s, 1m30s)")
	}
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%v is not a whole number of milliseconds", d)
	}
	return d.Milliseconds(), nil
}

// parseHours reads an hour key: "72" or a Go duration of whole hours ("72h").
func parseHours(v string) (int, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("want hours (72) or a duration (72h)")
	}
	if d%time.Hour != 0 {
		return 0, fmt.Errorf("%v is not a whole number of hours", d)
	}
	return int(d / time.Hour), nil
}

// parseSize reads a byte size: "1073741824", or a number with k, m, g or t (powers of 1024;
// "kb", "kib", upper or lower case alike): 64k, 512m, 1g, 1GiB.
func parseSize(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, nil
	}
	s := strings.ToLower(v)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "b"), "i")
	if s == "" {
		return 0, fmt.Errorf("want bytes (1073741824) or a size (64k, 512m, 1g)")
	}
	var shift uint
	switch s[len(s)-1] {
	case 'k':
		shift = 10
	case 'm':
		shift = 20
	case 'g':
		shift = 30
	case 't':
		shift = 40
	default:
		return 0, fmt.Errorf("want bytes (1073741824) or a size (64k, 512m, 1g)")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s[:len(s)-1]), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("want bytes (1073741824) or a size (64k, 512m, 1g)")
	}
	return n << shift, nil
}

func millisKey(f func(c *Config) *int64) configKey {
	return configKey{
		get: func(c *Config) string { return strconv.FormatInt(*f(c), 10) },
		set: func(c *Config, v string) error {
			n, err := parseMillis(v)
			if err != nil {
				return err
			}
			*f(c) = n
			return nil
		},
	}
}

func hoursKey(f func(c *Config) *int) configKey {
	return configKey{
		get: func(c *Config) string { return strconv.Itoa(*f(c)) },
		set: func(c *Config, v string) error {
			n, err := parseHours(v)
			if err != nil {
				return err
			}
			*f(c) = n
			return nil
		},
	}
}

func sizeKey(f func(c *Config) *int64) configKey {
	return configKey{
		get: func(c *Config) string { return strconv.FormatInt(*f(c), 10) },
		set: func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			*f(c) = n
			return nil
		},
	}
}

func intSizeKey(f func(c *Config) *int) configKey {
	return configKey{
		get: func(c *Config) string { return strconv.Itoa(*f(c)) },
		set: func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			if n > 1<<31-1 {
				return fmt.Errorf("%d bytes is too large", n)
			}
			*f(c) = int(n)
			return nil
		},
	}
}
