package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngChunkTypes lists the chunk types of a PNG in file order.
func pngChunkTypes(t *testing.T, d []byte) []string {
	t.Helper()
	var types []string
	for i := 8; i+8 <= len(d); {
		n := int(binary.BigEndian.Uint32(d[i:]))
		types = append(types, string(d[i+4:i+8]))
		i += 12 + n
	}
	return types
}

var testMeta = Metadata{
	SettingsKey: `{"content":"tubingen.jpg","style":"starry_night.jpg","seed":42,"iterations":500}`,
	"Title":     "Tübingen — la nuit étoilée", // not ASCII: iTXt in PNG
	CommentKey:  "made with Atelier\nsecond line",
}

func TestMetadataRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.png", "out.jpg"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := Save(p, smoothImage(32, 24), SaveOptions{Metadata: testMeta}); err != nil {
				t.Fatal(err)
			}
			got, err := ReadMetadata(p)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, testMeta) {
				t.Errorf("ReadMetadata = %q, want %q", got, testMeta)
			}
			img, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(img.Metadata, testMeta) {
				t.Errorf("Image.Metadata = %q, want %q", img.Metadata, testMeta)
			}
			data, _ := os.ReadFile(p)
			// The standard decoders (which check PNG CRCs) still read the file.
			if strings.HasSuffix(name, ".png") {
				if _, err := png.Decode(bytes.NewReader(data)); err != nil {
					t.Errorf("image/png rejects the file: %v", err)
				}
				types := pngChunkTypes(t, data)
				want := []string{"IHDR", "iTXt", "tEXt", "tEXt", "IDAT"} // sorted keys: Comment, Title, atelier:settings
				want[1], want[2] = "tEXt", "iTXt"
				if len(types) < 5 || strings.Join(types[:5], " ") != strings.Join(want, " ") {
					t.Errorf("chunks %v, want %v first", types, want)
				}
			} else {
				if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
					t.Errorf("image/jpeg rejects the file: %v", err)
				}
				if data[2] != 0xFF || data[3] != markerCOM {
					t.Errorf("bytes after SOI are % x, want a COM segment", data[2:4])
				}
			}
		})
	}
}

func TestMetadataNone(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"plain.png", "plain.jpg"} {
		p := filepath.Join(dir, name)
		if err := Save(p, smoothImage(20, 20), SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMetadata(p)
		if err != nil || m != nil {
			t.Errorf("%s: metadata %v, %v; want nil, nil", name, m, err)
		}
	}
}

// TestMetadataForeignChunks reads text chunks the way other programs write
// them: Latin-1 tEXt, zTXt, compressed iTXt; skips a chunk with a bad CRC
// and one that inflates past the limit.
func TestMetadataForeignChunks(t *testing.T) {
	deflate := func(s string) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	bad := pngChunk("tEXt", []byte("Broken\x00value"))
	bad[len(bad)-1] ^= 0xFF
	chunks := [][]byte{
		pngChunk("tEXt", []byte("Author\x00Ren\xe9")), // Latin-1 é
		pngChunk("zTXt", append([]byte("Description\x00\x00"), deflate("a zTXt text")...)),
		pngChunk("iTXt", append([]byte("Software\x00\x01\x00fr\x00Logiciel\x00"), deflate("Atelier ✓")...)),
		pngChunk("zTXt", append([]byte("Bomb\x00\x00"), deflate(strings.Repeat("x", maxTextBytes+1))...)),
		pngChunk("iTXt", []byte("NoNul")), // malformed
		bad,
	}
	base := encodePNG(t, smoothImage(16, 16))
	var d []byte
	d = append(d, base[:33]...)
	for _, c := range chunks {
		d = append(d, c...)
	}
	d = append(d, base[33:]...)
	got, err := DecodeMetadata(bytes.NewReader(d), "foreign.png")
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{"Author": "René", "Description": "a zTXt text", "Software": "Atelier ✓"}
	if !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := DecodeBytes(d, "foreign.png", Options{}); err != nil {
		t.Errorf("the image itself no longer decodes: %v", err)
	}
}

func TestMetadataJPEGComments(t *testing.T) {
	// Plain comments from other tools (no NUL) come back under CommentKey,
	// joined by newlines; Latin-1 bytes are converted.
	base := encodeJPEG(t, smoothImage(16, 16), 80)
	com := func(p string) []byte {
		return append([]byte{0xFF, markerCOM, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
	}
	d := append(append(append(append([]byte(nil), base[:2]...), com("first")...), com("caf\xe9")...), base[2:]...)
	got, err := DecodeMetadata(bytes.NewReader(d), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Metadata{CommentKey: "first\ncafé"}); !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	var b bytes.Buffer
	err = Encode(&b, smoothImage(16, 16), JPEG, SaveOptions{Metadata: Metadata{"k": strings.Repeat("v", maxJPEGComment)}})
	if err == nil || !strings.Contains(err.Error(), "too long for a JPEG comment") {
		t.Errorf("oversized comment: %v", err)
	}
}

func TestMetadataBadKeys(t *testing.T) {
	for _, k := range []string{"", strings.Repeat("k", 80), "a\x00b", " lead", "trail ", "two  spaces", "clé", "tab\there"} {
		for _, f := range []Format{PNG, JPEG} {
			var b bytes.Buffer
			if err := Encode(&b, smoothImage(16, 16), f, SaveOptions{Metadata: Metadata{k: "v"}}); err == nil {
				t.Errorf("%v accepted key %q", f, k)
			}
		}
	}
	var b bytes.Buffer
	if err := Encode(&b, smoothImage(16, 16), PNG, SaveOptions{Metadata: Metadata{"k": "\xff\xfe"}}); err == nil {
		t.Error("PNG accepted a value that is not UTF-8")
	}
}

func TestMetadataDamagedFiles(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, smoothImage(16, 16), PNG, SaveOptions{Metadata: testMeta}); err != nil {
		t.Fatal(err)
	}
	full := b.Bytes()
	// Cut inside IDAT: the text chunks before it are still returned.
	idat := bytes.Index(full, []byte("IDAT"))
	m, err := DecodeMetadata(bytes.NewReader(full[:idat+20]), "cut.png")
	if !errors.Is(err, ErrCorrupt) || !maps.Equal(m, testMeta) {
		t.Errorf("cut PNG: %q, %v; want all metadata and ErrCorrupt", m, err)
	}
	if _, err := DecodeMetadata(strings.NewReader("not an image"), "notes.txt"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("text file: %v, want ErrUnsupported", err)
	}
	if _, err := DecodeMetadata(strings.NewReader(""), "empty.png"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("empty file: %v, want ErrCorrupt", err)
	}
	if _, err := ReadMetadata(filepath.Join(t.TempDir(), "missing.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	jb := bytes.Buffer{}
	if err := Encode(&jb, smoothImage(16, 16), JPEG, SaveOptions{Metadata: testMeta}); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 200; n += 7 {
		DecodeMetadata(bytes.NewReader(jb.Bytes()[:n]), "cut.jpg") // must not panic
	}
}
