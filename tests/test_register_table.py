"""Every consumer of the model's table of registers and neuron fields (spec.REGISTERS, spec.NEURON_FIELDS)
agrees with it, and the RTL finds the protocol's payload fields where the struct formats put them."""

from __future__ import annotations

import dataclasses
import inspect
import struct

import numpy as np
import pytest
from amaranth.hdl import Const, Shape

from lifstp import protocol as P
from lifstp.golden_model import fixed, reference
from lifstp.golden_model import spec as S
from lifstp.rtl.config import CoreConfig, register_shapes
from lifstp.rtl.engine.payload import field_width, fields_of
from lifstp.rtl.engine.spikes import run_control_signature
from lifstp.rtl.neuron import register_layout

FORMATS = [S.Formats(), S.Formats(frac_v=12, width_v=22, frac_w=10, width_w=14, frac_k=20, frac_r=18, frac_e=12,
                                  width_ref=10)]


def test_table_is_well_formed():
    assert len(set(S.REGISTER_NAMES)) == len(S.REGISTERS)
    assert len({q.name for q in S.NEURON_FIELDS}) == len(S.NEURON_FIELDS)
    for fmt in FORMATS:
        for q in (*S.REGISTERS, *S.NEURON_FIELDS):
            lo, hi = q.limits(fmt, 8)
            full = P.value_range(q.bits(fmt, 8), q.signed)
            assert full[0] <= lo < hi <= full[1], q.name  # limits narrow the format, never widen it


def test_fixed_params_registers_follow_the_table():
    """registers() packs each FixedParams attribute at its table position, and the table covers them all."""
    fixed_params = S.quantise(S.ModelParams())
    regs = fixed_params.registers()
    for k, q in enumerate(S.REGISTERS):
        value = getattr(fixed_params, q.attribute)
        assert regs[k] == (value if q.index is None else value[q.index]), q.name
    attributes = {f.name for f in dataclasses.fields(S.FixedParams)} - {"formats"}
    assert {q.attribute for q in S.REGISTERS} == attributes
    for fmt in FORMATS:  # quantised values lie within the limits the devices accept
        fp = S.quantise(S.ModelParams(), fmt)
        for q, value in zip(S.REGISTERS, fp.registers()):
            lo, hi = q.limits(fmt)
            assert lo <= value <= hi, q.name


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("n", [1, 8, 300])
def test_protocol_widths_and_limits_follow_the_table(fmt, n):
    for addr, q in enumerate(S.REGISTERS):
        assert P.register_bits(q.name, fmt) == (q.bits(fmt), q.signed)
        assert P.space_value_bits(P.Space.REG, 0, fmt, n, addr) == (q.bits(fmt), q.signed)
        assert P.value_limits(P.Space.REG, 0, addr, fmt, n) == (*q.limits(fmt, n), q.signed)
    assert P.space_size(P.Space.REG, n) == len(S.REGISTERS)
    assert [f.name for f in P.NeuronField] == [q.name.upper() for q in S.NEURON_FIELDS]
    for f, q in zip(P.NeuronField, S.NEURON_FIELDS):
        assert P.neuron_field_bits(f, fmt, n) == (q.bits(fmt, n), q.signed)
        assert P.value_limits(P.Space.NEURON, f, 0, fmt, n) == (*q.limits(fmt, n), q.signed)
        assert P.wire_bytes(P.Space.NEURON, f, fmt, n) == (q.bits(fmt, n) + 7) // 8


def test_named_limits():
    """The limits the model needs, spelled out (a wrong rule in the table fails here)."""
    fmt = S.Formats()
    reg = dict(zip(S.REGISTER_NAMES, S.REGISTERS))
    assert reg["stp_u"].limits(fmt) == (0, fmt.r_one)
    assert reg["tau_ref_ticks"].limits(fmt)[0] == 1
    assert reg["noise_thr_inh3"].limits(fmt) == (0, 1 << S.NOISE_UNIFORM_BITS)
    assert reg["n_active"].limits(fmt, 300) == (0, 300)  # 0: all; never beyond the device's N
    fields = {q.name: q for q in S.NEURON_FIELDS}
    assert fields["clamp"].limits(fmt) == (0, max(S.ClampMode))
    assert fields["res"].limits(fmt) == (0, fmt.r_one)
    assert fields["rng"].limits(fmt) == (1, (1 << 64) - 1)
    assert fields["acc"].bits(fmt, 8) == fmt.acc_width(8)
    with pytest.raises(S.ModelError):
        fields["acc"].bits(fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rtl_shapes_follow_the_table(fmt):
    shapes = register_shapes(fmt)
    assert list(shapes) == list(S.REGISTER_NAMES)
    for q in S.REGISTERS:
        assert shapes[q.name] == Shape(q.bits(fmt), q.signed)
    for n in (1, 8, 300):
        cfg = CoreConfig(n, formats=fmt)
        for f, q in zip(P.NeuronField, S.NEURON_FIELDS):
            assert cfg.field_shape(f) == Shape(q.bits(fmt, n), q.signed), q.name
        assert list(register_layout(cfg).members) == list(S.REGISTER_NAMES)
        without = CoreConfig(n, formats=fmt, states_readout=False)
        assert list(register_layout(without).members) == [r for r in S.REGISTER_NAMES if r not in S.READOUT_REGISTERS]


@pytest.mark.parametrize("kernel", [fixed._run_ticks, reference._run_ticks_float])
def test_kernels_take_every_register_by_name(kernel):
    """Every register of the model (all but the readout's, which only the device's encoder takes)."""
    params = list(inspect.signature(kernel.py_func).parameters)
    model = [q for q in S.REGISTERS if q.name not in S.READOUT_REGISTERS]
    assert len(model) == len(S.REGISTERS) - len(S.READOUT_REGISTERS)
    attributes = list(dict.fromkeys(q.attribute for q in model))
    assert params[:len(attributes)] == attributes
    assert not set(S.READOUT_REGISTERS) & set(params)
    regs = np.arange(100, 100 + len(S.REGISTERS))  # a distinct value per register
    args = fixed.register_arguments(regs)
    assert list(args) == attributes
    for k, q in enumerate(S.REGISTERS):
        if q.name in S.READOUT_REGISTERS:
            continue
        got = args[q.attribute] if q.index is None else args[q.attribute][q.index]
        assert got == regs[k], q.name


# ---------------------------------------------------------------------------------------------------
# The protocol's payload structs, as the RTL reads and writes them.

PAYLOADS = [P.BURST_HEADER, P.RUN_PAYLOAD, P.CREDIT_PAYLOAD, P.SPIKES_HEADER, P.RUN_DONE_PAYLOAD,
            P.ERROR_PAYLOAD, P.IDENTIFY_PAYLOAD]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda s: s.format)
def test_fields_of_extracts_what_struct_packs(payload):
    """fields_of (the RTL's slices of a little-endian payload) returns the values struct packed."""
    rng = np.random.default_rng(len(payload.format))
    fields = P.struct_fields(payload)
    values = [int(rng.integers(0, 1 << (8 * size))) for _, size in fields]
    raw = int.from_bytes(payload.pack(*values), "little")
    got = fields_of(Const(raw, 8 * payload.size), payload)
    assert [len(v) for v in got] == [8 * size for _, size in fields]
    assert [Const.cast(v).value for v in got] == values


def test_struct_fields_rejects_native_alignment():
    with pytest.raises(ValueError):
        P.struct_fields(struct.Struct("BI"))


def test_run_control_widths_follow_the_structs():
    members = run_control_signature().members
    assert Shape.cast(members["ticks"].shape).width == field_width(P.RUN_PAYLOAD, 0)
    assert Shape.cast(members["credit"].shape).width == field_width(P.RUN_PAYLOAD, 1)
    assert Shape.cast(members["credit_amount"].shape).width == field_width(P.CREDIT_PAYLOAD, 0)
    assert Shape.cast(members["dropped"].shape).width == field_width(P.RUN_DONE_PAYLOAD, 3)
