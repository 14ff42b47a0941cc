//go:build linux

package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// openPTY returns both ends of a new pseudo-terminal: writes to the
// terminal end come out of the controlling end.
func openPTY(t *testing.T) (ctrl, tty *os.File) {
	t.Helper()
	ctrl, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ctrl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctrl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ctrl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ctrl, tty
}

// readSome reads what the terminal shows of one log line.
func readSome(t *testing.T, f *os.File) string {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// logTo is an info event of the logger NewLogger builds.
func logTo(cfg config.Log, format string, w io.Writer) *zerolog.Event {
	l := NewLogger(cfg, format, w)
	return l.Info()
}

func TestLogFormatFollowsTheTerminal(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	auto := config.Log{Level: "info", Format: "auto"}

	// Not a terminal: JSON lines, whatever the colour setting.
	var buf bytes.Buffer
	logTo(auto, "", &buf).Dur("wait_s", 1500*time.Millisecond).Msg("hello")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["message"] != "hello" || m["wait_s"] != 1.5 {
		t.Errorf("auto on a pipe: %q (%v), want a JSON line with wait_s 1.5", buf.String(), err)
	}

	// A terminal: the console format, in colour.
	ctrl, tty := openPTY(t)
	logTo(auto, "", tty).Str("k", "v").Msg("hello")
	got := readSome(t, ctrl)
	if strings.HasPrefix(got, "{") || !strings.Contains(got, "hello") || !strings.Contains(got, "\x1b[") {
		t.Errorf("auto on a terminal: %q, want the console format with colour", got)
	}

	// NO_COLOR: the console format without escape codes.
	t.Setenv("NO_COLOR", "1")
	logTo(auto, "", tty).Str("k", "v").Msg("plain")
	if got := readSome(t, ctrl); !strings.Contains(got, "plain") || strings.Contains(got, "\x1b[") {
		t.Errorf("NO_COLOR on a terminal: %q, want no escape codes", got)
	}

	// The flag wins: JSON on a terminal when asked for.
	logTo(auto, "json", tty).Msg("asked")
	if got := readSome(t, ctrl); !strings.HasPrefix(got, "{") {
		t.Errorf("--log-format json on a terminal: %q", got)
	}

	// console on a pipe: no colour (it is not a terminal).
	t.Setenv("NO_COLOR", "")
	buf.Reset()
	logTo(config.Log{Level: "info", Format: "console"}, "", &buf).Msg("piped")
	if strings.Contains(buf.String(), "\x1b[") || !strings.Contains(buf.String(), "piped") {
		t.Errorf("console on a pipe: %q, want no escape codes", buf.String())
	}

	// The level: debug lines only at debug.
	buf.Reset()
	logTo(config.Log{Level: "warn", Format: "json"}, "", &buf).Msg("quiet")
	if buf.Len() != 0 {
		t.Errorf("info at level warn: %q", buf.String())
	}
}
