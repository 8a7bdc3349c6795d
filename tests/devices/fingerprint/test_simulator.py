"""The real, unmodified pyfingerprint 1.5 against the simulated sensor."""

import os
import select
import time

import pytest
from pyfingerprint.pyfingerprint import PyFingerprint

from devices.fingerprint import protocol as p
from devices.fingerprint.simulator import PROFILES, SensorSimulator, Timing, characteristics, match_score

pytestmark = pytest.mark.timeout(60)


def connect(sim, password=0, address=0xFFFFFFFF):
    return PyFingerprint(sim.port, 57600, address, password)


def capture(f, buffer=1):
    while not f.readImage():
        pass
    f.convertImage(buffer)


def enrol(f, sim, finger):
    sim.touch(finger)
    sim.touch(finger)
    capture(f, 1)
    capture(f, 2)  # the simulator shows "no finger" between the two touches, as a lifted finger would
    assert f.createTemplate()
    return f.storeTemplate()


def leftover(sim, wait=0.05) -> bytes:
    """Bytes the sensor sent that no command asked for (there must be none)."""
    fd = os.open(sim.port, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        ready, _, _ = select.select([fd], [], [], wait)
        return os.read(fd, 4096) if ready else b""
    finally:
        os.close(fd)


@pytest.mark.parametrize(("profile", "capacity"), [("zfm20", 162), ("as608", 300), ("r307", 1000)])
def test_profiles_report_their_capacity(sensor_sim, profile, capacity):
    f = connect(sensor_sim(profile))
    assert f.verifyPassword()
    assert f.getStorageCapacity() == capacity
    status, system_id, cap, security, address, packet_code, baud_n = f.getSystemParameters()
    assert (cap, security, address, f.getMaxPacketSize(), f.getBaudRate()) == (capacity, 3, 0xFFFFFFFF, 128, 57600)
    assert status & 4  # password verified


def test_enrol_then_identify(sim):
    f = connect(sim)
    assert f.verifyPassword()
    assert f.getTemplateCount() == 0
    assert enrol(f, sim, "s023") == 0
    assert enrol(f, sim, "s024") == 1
    assert f.getTemplateCount() == 2
    sim.touch("s024")
    capture(f)
    position, score = f.searchTemplate()
    assert position == 1 and 60 <= score < 250


def test_no_finger_and_not_found(sim):
    f = connect(sim)
    assert f.readImage() is False
    enrol(f, sim, "s001")
    sim.touch("stranger")
    capture(f)
    assert f.searchTemplate() == (-1, -1)


def test_a_finger_placed_stays_until_lifted(sim):
    f = connect(sim)
    sim.place("s001")
    assert f.readImage() and f.readImage()
    assert sim.finger_on_glass == "s001"
    sim.lift()
    assert f.readImage() is False


def test_scripted_touches_land_in_order(sim):
    f = connect(sim)
    enrol(f, sim, "s001")
    enrol(f, sim, "s002")
    sim.script([(0.0, "s002"), (0.05, "s001")])
    seen = []
    for _ in range(2):
        capture(f)
        seen.append(f.searchTemplate()[0])
    assert seen == [1, 0]
    assert sim.wait_idle(1)


def test_two_different_fingers_do_not_combine(sim):
    f = connect(sim)
    sim.touch("s001")
    sim.touch("s002")
    capture(f, 1)
    capture(f, 2)
    assert f.compareCharacteristics() == 0
    assert f.createTemplate() is False


def test_poor_images_raise_as_a_real_sensor_would(sim):
    f = connect(sim)
    sim.touch("s001", quality="messy")
    assert f.readImage()
    with pytest.raises(Exception, match="too messy"):
        f.convertImage(1)
    sim.touch("s001", quality="few")
    while not f.readImage():
        pass
    with pytest.raises(Exception, match="too few feature points"):
        f.convertImage(1)


def test_template_index_pages_and_positions(sensor_sim):
    sim = sensor_sim("r307")
    f = connect(sim)
    for position in (0, 7, 8, 255, 256, 999):
        sim.touch(f"s{position:03d}")
        capture(f)
        assert f.storeTemplate(position) == position
    page0, page1, page3 = f.getTemplateIndex(0), f.getTemplateIndex(1), f.getTemplateIndex(3)
    assert [i for i, used in enumerate(page0) if used] == [0, 7, 8, 255]
    assert [i for i, used in enumerate(page1) if used] == [0]
    assert [i for i, used in enumerate(page3) if used] == [999 - 768]
    sim.touch("next")
    capture(f)
    assert f.storeTemplate() == 1  # the first free position, found through the index pages
    assert f.getTemplateCount() == 7


def test_a_full_sensor_refuses_more(sensor_sim):
    sim = sensor_sim("zfm20")
    for position in range(162):
        sim.enrol_directly(f"p{position}", position)
    f = connect(sim)
    assert f.getTemplateCount() == 162
    sim.touch("one-too-many")
    capture(f)
    with pytest.raises(ValueError):  # storeTemplate(-1) finds no free position on any index page
        f.storeTemplate()
    with pytest.raises(ValueError):
        f.storeTemplate(162)


def test_wrong_password(sensor_sim):
    sim = sensor_sim(password=0x1234)
    f = connect(sim, password=0x9999)
    assert f.verifyPassword() is False
    with pytest.raises(Exception, match="0x21"):  # the module refuses until the password is verified
        f.getTemplateCount()
    right = connect(sim, password=0x1234)
    assert right.verifyPassword() is True
    assert right.getTemplateCount() == 0


def test_change_password(sim):
    f = connect(sim)
    assert f.verifyPassword()
    assert f.setPassword(0xCAFE)
    assert connect(sim, password=0).verifyPassword() is False
    assert connect(sim, password=0xCAFE).verifyPassword() is True


def test_wrong_address_is_answered_not_ignored(sim):
    with pytest.raises(Exception, match="address is wrong"):
        connect(sim, address=0x12345678).verifyPassword()


def test_download_and_upload_characteristics_between_sensors(sensor_sim):
    a, b = sensor_sim("r307"), sensor_sim("as608")
    fa, fb = connect(a), connect(b)
    position = enrol(fa, a, "s023")
    assert fa.loadTemplate(position, 1)
    template = fa.downloadCharacteristics(1)
    assert len(template) == 512
    assert fb.uploadCharacteristics(1, template)  # the library reads it back and compares
    assert fb.storeTemplate(5, 1) == 5
    assert fb.searchTemplate() == (5, fb.searchTemplate()[1])
    b.touch("s023")
    capture(fb)
    assert fb.searchTemplate()[0] == 5


def test_upload_in_32_byte_packets(sim):
    f = connect(sim)
    f.setMaxPacketSize(32)  # returns nothing in 1.5
    assert f.getMaxPacketSize() == 32
    data = list(characteristics("s001", 1))
    assert f.uploadCharacteristics(2, data)
    assert f.downloadCharacteristics(2) == data


def test_compare_delete_clear_and_random(sim):
    f = connect(sim)
    enrol(f, sim, "s001")
    enrol(f, sim, "s002")
    sim.touch("s001")
    capture(f, 1)
    assert f.loadTemplate(0, 2)
    assert f.compareCharacteristics() > 0
    assert f.deleteTemplate(0)
    assert f.getTemplateCount() == 1
    with pytest.raises(Exception, match="template could not be read"):
        f.loadTemplate(0, 1)
    assert isinstance(f.generateRandomNumber(), int)
    assert f.clearDatabase()
    assert f.getTemplateCount() == 0


def test_security_level_and_bad_register(sim):
    f = connect(sim)
    f.setSecurityLevel(5)
    assert f.getSecurityLevel() == 5
    with pytest.raises(ValueError, match="parameter number is invalid"):  # the library checks it first
        f.setSystemParameter(9, 1)
    sim.fail_next(p.SET_SYS_PARA, p.BAD_REGISTER)  # a module that does not have the register
    with pytest.raises(Exception, match="Invalid register number"):  # noqa: B017 (the library raises Exception)
        f.setSecurityLevel(4)


def test_flash_error_and_forced_codes(sim):
    f = connect(sim)
    sim.touch("s001")
    capture(f)
    sim.flash_error = True
    with pytest.raises(Exception, match="flash"):
        f.storeTemplate(3)
    sim.flash_error = False
    sim.fail_next(p.SEARCH, p.NOT_FOUND)
    assert f.searchTemplate() == (-1, -1)


def test_download_image(sim, tmp_path):
    f = connect(sim)
    sim.touch("s001")
    assert f.readImage()
    f.downloadImage(str(tmp_path / "finger.bmp"))
    assert (tmp_path / "finger.bmp").stat().st_size > 0


def test_exactly_one_ack_per_command_and_nothing_left_over(sim):
    f = connect(sim)
    f.verifyPassword()
    enrol(f, sim, "s001")
    f.getTemplateIndex(0)
    f.loadTemplate(0, 1)
    f.downloadCharacteristics(1)
    f.uploadCharacteristics(2, list(characteristics("s001", 9)))
    assert sim.replies == len(sim.commands)
    assert leftover(sim) == b""
    assert sim.bad_frames == 0


def test_frames_are_reassembled_by_length_however_they_arrive(sim):
    fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)
    try:
        count = p.frame(p.COMMAND, bytes([p.TEMPLATE_COUNT]))
        # noise first, then two frames split at odd places
        stream = b"\x00\x55" + count + count
        for chunk in (stream[:3], stream[3:10], stream[10:11], stream[11:]):
            os.write(fd, chunk)
            time.sleep(0.01)
        answer = b""
        deadline = time.monotonic() + 5
        while len(answer) < 2 * 14 and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                answer += os.read(fd, 100)
        reply = p.frame(p.ACK, b"\x00\x00\x00")
        assert answer == reply + reply
        # a frame with a bad checksum is answered "receive error", not acted on
        bad = bytearray(count)
        bad[-1] ^= 0xFF
        os.write(fd, bytes(bad))
        ready, _, _ = select.select([fd], [], [], 5)
        assert os.read(fd, 100) == p.frame(p.ACK, bytes([p.RECEIVE_ERROR]))
    finally:
        os.close(fd)


def test_the_library_survives_a_power_cycle(tmp_path):
    flash = tmp_path / "flash.json"
    with SensorSimulator("as608", flash=flash) as first:
        enrol(connect(first), first, "s001")
    with SensorSimulator("as608", flash=flash) as second:
        f = connect(second)
        assert f.getTemplateCount() == 1
        second.touch("s001")
        capture(f)
        assert f.searchTemplate()[0] == 0


def test_a_stable_link_to_the_port(tmp_path):
    link = tmp_path / "ttyFP01"
    with SensorSimulator(link=link) as sim:
        assert os.path.realpath(link) == sim.port
        assert PyFingerprint(str(link)).verifyPassword()
    assert not link.exists()


def test_realistic_timing_stays_within_the_librarys_read_timeout():
    timing = Timing.realistic()
    for profile in PROFILES.values():
        slowest = max(timing.capture, timing.extract, profile.search_base + profile.search_per_template * profile.capacity)
        assert slowest < 1.5  # pyfingerprint gives up after 2 s without a byte


def test_scores_depend_on_both_captures_and_never_cross_fingers():
    a1, a2, b1 = characteristics("a", 1), characteristics("a", 2), characteristics("b", 1)
    assert match_score(a1, b1) == 0
    assert 60 <= match_score(a1, a2) < 250
    assert match_score(a1, b"\x00" * 512) == 0
