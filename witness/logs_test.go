package witness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	fnote "github.com/transparency-dev/formats/note"
)

const (
	vkeyA = "example.com/log+a5b01b53+ARxKRXN3If8k2yAnmz8yvcFkykKDzWgqgAjz55MeLVrm"
	vkeyB = "other-key-name+42bc1044+AdkRa2qAindNU93q10iQrOnITWwJGVkZW8E46oCacHDG"
)

// logSummary is what a test compares of a LogConfig.
type logSummary struct {
	Origin, KeyName, Contact string
	QPD                      int
}

func summarize(logs []LogConfig) []logSummary {
	var out []logSummary
	for _, l := range logs {
		out = append(out, logSummary{l.Origin, l.Verifier.Name(), l.Contact, l.QPD})
	}
	return out
}

func TestParseLogs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "logs", "example.txt"))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := ParseLogs(b)
	if err != nil {
		t.Fatalf("ParseLogs(example.txt) = %v", err)
	}
	want := []logSummary{
		{"example.com/log", "example.com/log", "ops@example.com", 86400},
		{"other.example/log with spaces", "other-key-name", "sysadmin (at) other.example | https://other.example/contact", 24},
	}
	if diff := cmp.Diff(want, summarize(logs)); diff != "" {
		t.Errorf("ParseLogs(example.txt) (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name, in string
		want     []logSummary
	}{
		{"header only", "logs/v0\n", nil},
		{"comments before the header", "# hello\n\n  logs/v0  \n# bye\n", nil},
		{"crlf", "logs/v0\r\nvkey " + vkeyA + "\r\nqpd 1\r\ncontact x\r\n", []logSummary{{"example.com/log", "example.com/log", "x", 1}}},
		{"no final newline", "logs/v0\nvkey " + vkeyA + "\nqpd 2147483647\ncontact x", []logSummary{{"example.com/log", "example.com/log", "x", 2147483647}}},
		{"two keys for one origin", "logs/v0\nvkey " + vkeyA + "\nqpd 1\ncontact x\nvkey " + vkeyB + "\norigin example.com/log\nqpd 1\ncontact y\n",
			[]logSummary{{"example.com/log", "example.com/log", "x", 1}, {"example.com/log", "other-key-name", "y", 1}}},
		{"one key for two origins", "logs/v0\nvkey " + vkeyA + "\nqpd 1\ncontact x\nvkey " + vkeyA + "\norigin other\nqpd 1\ncontact x\n",
			[]logSummary{{"example.com/log", "example.com/log", "x", 1}, {"other", "example.com/log", "x", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, err := ParseLogs([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseLogs(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, summarize(logs)); diff != "" {
				t.Errorf("ParseLogs(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseLogsMalformed(t *testing.T) {
	item := "vkey " + vkeyA + "\nqpd 1\ncontact x\n"
	// A cosignature/v1 key (type 0x04), which logs/v0 does not accept.
	vkeyCosig, err := fnote.VKeyToCosignatureV1(vkeyA)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in string
		line     int
		reason   string // a part of the reason
	}{
		{"empty", "", 1, "no logs/v0 header"},
		{"only comments", "# a\n\n", 1, "no logs/v0 header"},
		{"no header", item, 1, "must be logs/v0"},
		{"other version", "logs/v1\n" + item, 1, "must be logs/v0"},
		{"header twice", "logs/v0\nlogs/v0\n", 2, "unknown keyword"},
		{"unknown keyword", "logs/v0\n" + item + "url https://example.com\n", 5, "unknown keyword"},
		{"keyword in capitals", "logs/v0\nVKEY " + vkeyA + "\n", 2, "unknown keyword"},
		{"tab after keyword", "logs/v0\nvkey\t" + vkeyA + "\n", 2, "control characters"},
		{"two spaces after keyword", "logs/v0\nvkey  " + vkeyA + "\n", 2, "more than one space"},
		{"vkey without key", "logs/v0\nvkey\nqpd 1\ncontact x\n", 2, "exactly one verifier key"},
		{"vkey with two keys", "logs/v0\nvkey " + vkeyA + " " + vkeyB + "\n", 2, "exactly one verifier key"},
		{"vkey invalid", "logs/v0\nvkey example.com/log+a5b01b53+AAAA\n", 2, "not a valid Ed25519"},
		{"vkey wrong hash", "logs/v0\nvkey example.com/log+a5b01b54+ARxKRXN3If8k2yAnmz8yvcFkykKDzWgqgAjz55MeLVrm\n", 2, "not a valid Ed25519"},
		{"vkey cosignature type", "logs/v0\nvkey " + vkeyCosig + "\nqpd 1\ncontact x\n", 2, "not a valid Ed25519"},
		{"origin first", "logs/v0\norigin example.com/log\n", 2, "origin line not right after a vkey"},
		{"origin after qpd", "logs/v0\nvkey " + vkeyA + "\nqpd 1\norigin o\ncontact x\n", 4, "origin line not right after a vkey"},
		{"origin twice", "logs/v0\nvkey " + vkeyA + "\norigin a\norigin b\nqpd 1\ncontact x\n", 4, "origin line not right after a vkey"},
		{"origin empty", "logs/v0\nvkey " + vkeyA + "\norigin\nqpd 1\ncontact x\n", 3, "without an origin"},
		{"qpd missing", "logs/v0\nvkey " + vkeyA + "\ncontact x\n", 3, "contact line not after a qpd"},
		{"qpd missing at end", "logs/v0\n\nvkey " + vkeyA + "\n", 3, "no qpd or contact"},
		{"qpd zero", "logs/v0\nvkey " + vkeyA + "\nqpd 0\ncontact x\n", 3, "qpd must be"},
		{"qpd leading zero", "logs/v0\nvkey " + vkeyA + "\nqpd 024\ncontact x\n", 3, "qpd must be"},
		{"qpd negative", "logs/v0\nvkey " + vkeyA + "\nqpd -1\ncontact x\n", 3, "qpd must be"},
		{"qpd plus", "logs/v0\nvkey " + vkeyA + "\nqpd +1\ncontact x\n", 3, "qpd must be"},
		{"qpd 2^31", "logs/v0\nvkey " + vkeyA + "\nqpd 2147483648\ncontact x\n", 3, "qpd must be"},
		{"qpd huge", "logs/v0\nvkey " + vkeyA + "\nqpd 99999999999999999999999\ncontact x\n", 3, "qpd must be"},
		{"qpd not a number", "logs/v0\nvkey " + vkeyA + "\nqpd many\ncontact x\n", 3, "qpd must be"},
		{"qpd twice", "logs/v0\nvkey " + vkeyA + "\nqpd 1\nqpd 2\ncontact x\n", 4, "qpd line not after"},
		{"contact missing", "logs/v0\nvkey " + vkeyA + "\nqpd 1\nvkey " + vkeyB + "\n", 4, "before the previous log's"},
		{"contact missing at end", "logs/v0\nvkey " + vkeyA + "\nqpd 1\n", 2, "no qpd or contact"},
		{"contact empty", "logs/v0\nvkey " + vkeyA + "\nqpd 1\ncontact \n", 4, "without contact details"},
		{"contact twice", "logs/v0\n" + item + "contact y\n", 5, "contact line not after"},
		{"control character in origin", "logs/v0\nvkey " + vkeyA + "\norigin a\x01b\nqpd 1\ncontact x\n", 3, "control characters"},
		{"tab in contact", "logs/v0\nvkey " + vkeyA + "\nqpd 1\ncontact a\tb\n", 4, "control characters"},
		{"invalid UTF-8", "logs/v0\nvkey " + vkeyA + "\nqpd 1\ncontact \xff\n", 4, "not UTF-8"},
		{"same log twice", "logs/v0\n" + item + "# again\n" + item, 6, "the log of line 2 again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, err := ParseLogs([]byte(tc.in))
			var le *LogsError
			if !errors.As(err, &le) {
				t.Fatalf("ParseLogs(%q) = %v, %v; want a *LogsError", tc.in, summarize(logs), err)
			}
			if le.Line != tc.line || !strings.Contains(le.Reason, tc.reason) {
				t.Errorf("ParseLogs(%q) = %v; want line %d, reason containing %q", tc.in, err, tc.line, tc.reason)
			}
		})
	}
}

// TestParseLogsDoesNotEcho checks that errors never repeat the file's
// content, so that a list from elsewhere cannot put text into our logs.
func TestParseLogsDoesNotEcho(t *testing.T) {
	const secret = "SECRET-TEXT"
	for _, in := range []string{
		secret + "\n",
		"logs/v0\n" + secret + " x\n",
		"logs/v0\nvkey " + secret + "\n",
		"logs/v0\nvkey " + vkeyA + "\nqpd " + secret + "\n",
	} {
		_, err := ParseLogs([]byte(in))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ParseLogs(%q) = %v; want an error that does not repeat the input", in, err)
		}
	}
}

func FuzzParseLogs(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "logs", "*"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("logs/v0\nvkey " + vkeyA + "\norigin o\nqpd 1\ncontact x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		logs, err := ParseLogs(b)
		if err != nil {
			var le *LogsError
			if !errors.As(err, &le) || le.Line < 1 || le.Line > strings.Count(string(b), "\n")+1 {
				t.Fatalf("ParseLogs(%q) = %v; want a *LogsError with a line of the input", b, err)
			}
			return
		}
		for _, l := range logs {
			if !validOrigin(l.Origin) || l.Verifier == nil || l.QPD < 1 || l.QPD >= 1<<31 || l.Contact == "" || strings.TrimSpace(l.Contact) != l.Contact {
				t.Fatalf("ParseLogs(%q) returned an invalid log %+v", b, l)
			}
		}
		// Parsing is a function of the content: adding comments and blank
		// lines changes nothing.
		again, err := ParseLogs([]byte("# comment\n\n" + strings.ReplaceAll(string(b), "\n", "\n\n# c\n")))
		if err != nil || !cmp.Equal(summarize(logs), summarize(again)) {
			t.Fatalf("ParseLogs with comments added = %v, %v; want %v", summarize(again), err, summarize(logs))
		}
	})
}
