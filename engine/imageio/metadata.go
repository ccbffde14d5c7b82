package imageio

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Metadata is text key/value pairs carried inside an image file: PNG
// tEXt/iTXt chunks (read also from zTXt), JPEG COM segments.
type Metadata map[string]string

// SettingsKey is the key under which Atelier stores a run's settings and
// seed (as JSON), so a saved result can be re-run ("--from OUT.png").
const SettingsKey = "atelier:settings"

// CommentKey is the key of a JPEG's plain comment (a COM segment that is
// not a key/value pair), and of PNG's registered "Comment" keyword.
const CommentKey = "Comment"

// maxTextBytes bounds one metadata value when reading, so a hostile
// compressed chunk cannot inflate without limit.
const maxTextBytes = 1 << 20

// maxJPEGComment is the largest payload one JPEG COM segment can hold.
const maxJPEGComment = 65533

// keys returns the keys of m in sorted order, so files come out the same
// byte for byte from the same metadata.
func (m Metadata) keys() []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkKey validates a key: 1-79 printable ASCII characters, no leading,
// trailing or doubled spaces (the PNG keyword rules, applied to JPEG too).
func checkKey(k string) error {
	if len(k) < 1 || len(k) > 79 {
		return fmt.Errorf("imageio: metadata key %q must be 1 to 79 characters long", k)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7E {
			return fmt.Errorf("imageio: metadata key %q must be printable ASCII", k)
		}
	}
	if k[0] == ' ' || k[len(k)-1] == ' ' || strings.Contains(k, "  ") {
		return fmt.Errorf("imageio: metadata key %q has leading, trailing or doubled spaces", k)
	}
	return nil
}

// pngChunk returns one complete PNG chunk (length, type, data, CRC).
func pngChunk(typ string, data []byte) []byte {
	c := make([]byte, 0, 12+len(data))
	c = binary.BigEndian.AppendUint32(c, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// isLatin1Text reports whether s can be stored in a tEXt chunk unchanged:
// printable ASCII and newlines (a strict subset of tEXt's Latin-1 that
// reads the same as UTF-8).
func isLatin1Text(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\n' && (c < 0x20 || c > 0x7E) {
			return false
		}
	}
	return true
}

// pngTextChunks encodes m as PNG chunks: tEXt for plain ASCII values, iTXt
// (UTF-8, uncompressed) for the rest.
func pngTextChunks(m Metadata) ([]byte, error) {
	var out []byte
	for _, k := range m.keys() {
		v := m[k]
		if err := checkKey(k); err != nil {
			return nil, err
		}
		if isLatin1Text(v) {
			out = append(out, pngChunk("tEXt", append(append([]byte(k), 0), v...))...)
			continue
		}
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("imageio: metadata value for %q is not valid UTF-8", k)
		}
		// keyword, NUL, compression flag 0, method 0, empty language tag,
		// NUL, empty translated keyword, NUL, text.
		d := append([]byte(k), 0, 0, 0, 0, 0)
		out = append(out, pngChunk("iTXt", append(d, v...))...)
	}
	return out, nil
}

// jpegComments encodes m as JPEG COM segments holding "key\x00value", or
// just the text for CommentKey.
func jpegComments(m Metadata) ([]byte, error) {
	var out []byte
	for _, k := range m.keys() {
		v := m[k]
		if err := checkKey(k); err != nil {
			return nil, err
		}
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("imageio: metadata value for %q is not valid UTF-8", k)
		}
		p := []byte(v)
		if k != CommentKey {
			p = append(append([]byte(k), 0), v...)
		}
		if len(p) > maxJPEGComment {
			return nil, fmt.Errorf("imageio: metadata %q is %d bytes, too long for a JPEG comment (at most %d); save as PNG instead",
				k, len(p), maxJPEGComment)
		}
		out = append(out, 0xFF, markerCOM, byte((len(p)+2)>>8), byte(len(p)+2))
		out = append(out, p...)
	}
	return out, nil
}

// ReadMetadata returns the key/value metadata of the PNG or JPEG file at
// path (nil when it has none), reading only the file's structure, not its
// pixels. A file that breaks off part-way returns what was read before the
// break together with an error wrapping ErrCorrupt. GIF files give nil
// (their comments are not read); other files an error wrapping
// ErrUnsupported.
func ReadMetadata(path string) (Metadata, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(name, err)
	}
	defer f.Close()
	return DecodeMetadata(f, name)
}

// DecodeMetadata is ReadMetadata for a stream; name is used in errors.
func DecodeMetadata(r io.Reader, name string) (Metadata, error) {
	if name == "" {
		name = "the image"
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(8)
	switch f := sniff(head); f {
	case PNG:
		return pngMetadata(br, name)
	case JPEG:
		return jpegMetadata(br, name)
	case GIF:
		return nil, nil
	}
	if len(head) == 0 {
		return nil, newError(ErrCorrupt, nil, "%s is empty (0 bytes)", name)
	}
	return nil, newError(ErrUnsupported, nil, "%s is not a PNG, JPEG or GIF image", name)
}

// readMetadataBytes is DecodeMetadata on a file already in memory, keeping
// whatever it finds and ignoring structural errors (Decode reports those).
func readMetadataBytes(f Format, data []byte) Metadata {
	var m Metadata
	switch f {
	case PNG:
		m, _ = pngMetadata(bufio.NewReader(bytes.NewReader(data)), "")
	case JPEG:
		m, _ = jpegMetadata(bufio.NewReader(bytes.NewReader(data)), "")
	}
	return m
}

func (m *Metadata) set(k, v string) {
	if *m == nil {
		*m = Metadata{}
	}
	(*m)[k] = v
}

// truncatedMeta is the error for a file whose structure breaks off.
func truncatedMeta(name string, err error) error {
	return newError(ErrCorrupt, err, "%s is truncated or damaged (%v)", name, err)
}

// pngMetadata reads the text chunks of a PNG stream positioned at its
// signature. Chunks with a bad CRC or a malformed layout are skipped.
func pngMetadata(r *bufio.Reader, name string) (Metadata, error) {
	var m Metadata
	if _, err := r.Discard(8); err != nil {
		return m, truncatedMeta(name, err)
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return m, truncatedMeta(name, err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		if typ == "IEND" {
			return m, nil
		}
		if (typ != "tEXt" && typ != "zTXt" && typ != "iTXt") || n > maxTextBytes {
			if _, err := io.CopyN(io.Discard, r, n+4); err != nil {
				return m, truncatedMeta(name, err)
			}
			continue
		}
		buf := make([]byte, n+4)
		if _, err := io.ReadFull(r, buf); err != nil {
			return m, truncatedMeta(name, err)
		}
		data, sum := buf[:n], binary.BigEndian.Uint32(buf[n:])
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:])
		crc.Write(data)
		if crc.Sum32() != sum {
			continue
		}
		if k, v, ok := parseTextChunk(typ, data); ok {
			m.set(k, v)
		}
	}
}

// parseTextChunk decodes the body of a tEXt, zTXt or iTXt chunk.
func parseTextChunk(typ string, data []byte) (key, value string, ok bool) {
	k, rest, found := bytes.Cut(data, []byte{0})
	if !found || len(k) == 0 || len(k) > 79 {
		return "", "", false
	}
	key = latin1(k)
	switch typ {
	case "tEXt":
		return key, latin1(rest), true
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", false
		}
		t, err := inflate(rest[1:])
		if err != nil {
			return "", "", false
		}
		return key, latin1(t), true
	}
	// iTXt
	if len(rest) < 2 {
		return "", "", false
	}
	compressed, method := rest[0], rest[1]
	_, rest, found = bytes.Cut(rest[2:], []byte{0}) // language tag
	if !found {
		return "", "", false
	}
	_, text, found := bytes.Cut(rest, []byte{0}) // translated keyword
	if !found {
		return "", "", false
	}
	if compressed != 0 {
		if method != 0 {
			return "", "", false
		}
		t, err := inflate(text)
		if err != nil {
			return "", "", false
		}
		text = t
	}
	if !utf8.Valid(text) {
		return "", "", false
	}
	return key, string(text), true
}

// inflate decompresses zlib data, refusing more than maxTextBytes.
func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxTextBytes+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxTextBytes {
		return nil, errors.New("text too long")
	}
	return out, nil
}

// latin1 converts ISO 8859-1 bytes (PNG tEXt's encoding) to a UTF-8 string.
func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

// jpegMetadata reads the COM segments of a JPEG stream positioned at SOI,
// up to the first scan.
func jpegMetadata(r *bufio.Reader, name string) (m Metadata, err error) {
	if _, err := r.Discard(2); err != nil {
		return m, truncatedMeta(name, err)
	}
	var comments []string
	defer func() {
		if len(comments) > 0 {
			m.set(CommentKey, strings.Join(comments, "\n"))
		}
	}()
	for {
		var c byte
		if c, err = r.ReadByte(); err != nil {
			return m, truncatedMeta(name, err)
		}
		if c != 0xFF {
			return m, truncatedMeta(name, errors.New("missing JPEG marker"))
		}
		for c == 0xFF {
			if c, err = r.ReadByte(); err != nil {
				return m, truncatedMeta(name, err)
			}
		}
		switch {
		case c == markerSOS || c == markerEOI:
			return m, nil
		case c == 0x01 || (c >= 0xD0 && c <= 0xD7):
			continue
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return m, truncatedMeta(name, err)
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return m, truncatedMeta(name, errors.New("bad segment length"))
		}
		if c != markerCOM {
			if _, err := r.Discard(n); err != nil {
				return m, truncatedMeta(name, err)
			}
			continue
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return m, truncatedMeta(name, err)
		}
		if k, v, ok := bytes.Cut(p, []byte{0}); ok && checkKey(string(k)) == nil && utf8.Valid(v) {
			m.set(string(k), string(v))
		} else if utf8.Valid(p) {
			comments = append(comments, string(p))
		} else {
			comments = append(comments, latin1(p))
		}
	}
}
