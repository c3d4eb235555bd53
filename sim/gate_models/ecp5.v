// Simulation models of the two ECP5 primitives that Yosys's models leave out: the DP16KD block RAM (a
// black box in ecp5/cells_sim.v) and the MULT18X18D multiplier (declared in cells_bb.v only). The
// gate-level simulation (sim/gate_level.py) uses them beside Yosys's own models of every other cell.
// Each covers the configuration that Yosys's mapping (lattice/brams_map_16kd.v, lattice/dsp_map_18x18.v)
// gives it and stops the simulation on any other, so that a netlist never runs on a guessed behaviour.

`timescale 1ps / 1ps

// DP16KD, as Yosys describes it to its memory mapper (lattice/brams_16kd.txt): $__DP16KD_, two ports of
// one width (1, 2, 4, 9 or 18 bits), and $__PDPW16KD_, a 36-bit write port A (data DIB:DIA) beside a
// 36-bit read port B (data DOB:DOA); one clock, no output register. A port that writes shows on its own
// output the old word (WRITEMODE "READBEFOREWRITE"), the new one ("WRITETHROUGH") or keeps its output
// ("NORMAL"); a port that reads a word the other port writes in the same cycle reads X in the bits
// written (the description gives that case no behaviour, so synthesis adds logic wherever the design
// needs a defined one). A word of width W sits at address bits 13:log2(W) (9: 13:3, 18: 13:4, 36:
// 13:5); an 18-bit port takes its 9-bit byte enables on address bits 1:0, the 36-bit one on 3:0.
// Initial contents other than zero only at widths 9 and 18. Outputs start at zero ("rdinit zero").
module DP16KD(
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input CEA, OCEA, CLKA, WEA, RSTA,
    input CSA2, CSA1, CSA0,
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input CEB, OCEB, CLKB, WEB, RSTB,
    input CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter WID = 0;
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
    parameter INITVAL_00 = 320'h0, INITVAL_01 = 320'h0, INITVAL_02 = 320'h0, INITVAL_03 = 320'h0;
    parameter INITVAL_04 = 320'h0, INITVAL_05 = 320'h0, INITVAL_06 = 320'h0, INITVAL_07 = 320'h0;
    parameter INITVAL_08 = 320'h0, INITVAL_09 = 320'h0, INITVAL_0A = 320'h0, INITVAL_0B = 320'h0;
    parameter INITVAL_0C = 320'h0, INITVAL_0D = 320'h0, INITVAL_0E = 320'h0, INITVAL_0F = 320'h0;
    parameter INITVAL_10 = 320'h0, INITVAL_11 = 320'h0, INITVAL_12 = 320'h0, INITVAL_13 = 320'h0;
    parameter INITVAL_14 = 320'h0, INITVAL_15 = 320'h0, INITVAL_16 = 320'h0, INITVAL_17 = 320'h0;
    parameter INITVAL_18 = 320'h0, INITVAL_19 = 320'h0, INITVAL_1A = 320'h0, INITVAL_1B = 320'h0;
    parameter INITVAL_1C = 320'h0, INITVAL_1D = 320'h0, INITVAL_1E = 320'h0, INITVAL_1F = 320'h0;
    parameter INITVAL_20 = 320'h0, INITVAL_21 = 320'h0, INITVAL_22 = 320'h0, INITVAL_23 = 320'h0;
    parameter INITVAL_24 = 320'h0, INITVAL_25 = 320'h0, INITVAL_26 = 320'h0, INITVAL_27 = 320'h0;
    parameter INITVAL_28 = 320'h0, INITVAL_29 = 320'h0, INITVAL_2A = 320'h0, INITVAL_2B = 320'h0;
    parameter INITVAL_2C = 320'h0, INITVAL_2D = 320'h0, INITVAL_2E = 320'h0, INITVAL_2F = 320'h0;
    parameter INITVAL_30 = 320'h0, INITVAL_31 = 320'h0, INITVAL_32 = 320'h0, INITVAL_33 = 320'h0;
    parameter INITVAL_34 = 320'h0, INITVAL_35 = 320'h0, INITVAL_36 = 320'h0, INITVAL_37 = 320'h0;
    parameter INITVAL_38 = 320'h0, INITVAL_39 = 320'h0, INITVAL_3A = 320'h0, INITVAL_3B = 320'h0;
    parameter INITVAL_3C = 320'h0, INITVAL_3D = 320'h0, INITVAL_3E = 320'h0, INITVAL_3F = 320'h0;

    localparam W = DATA_WIDTH_A;
    localparam S = W == 1 ? 0 : W == 2 ? 1 : W == 4 ? 2 : W == 9 ? 3 : W == 18 ? 4 : 5;  // address shift
    localparam DEPTH = 16384 >> S;
    localparam LANES = W == 36 ? 4 : W == 18 ? 2 : 1;  // 9-bit byte enables of a word
    // INITVAL_xx holds 16 words of 18 bits, each in a 20-bit slot
    localparam [64 * 320 - 1:0] INITVALS = {INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39, INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32, INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B, INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24, INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D, INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16, INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F, INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08, INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01, INITVAL_00};

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    reg [35:0] doa, dob;  // the word each port last read (36 bits: port B's, on DOA and DOB)
    wire [35:0] out_a = W == 36 ? dob : doa, out_b = W == 36 ? {18'd0, dob[35:18]} : dob;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = out_a[17:0];
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = out_b[17:0];

    reg [35:0] mem [0:DEPTH-1];
    integer k;
    initial begin
        if ((W != 1 && W != 2 && W != 4 && W != 9 && W != 18 && W != 36) || DATA_WIDTH_B != W
                || REGMODE_A != "NOREG" || REGMODE_B != "NOREG" || CSDECODE_A != "0b000" || CSDECODE_B != "0b000"
                || CLKAMUX != "CLKA" || CLKBMUX != "CLKB" || (W != 9 && W != 18 && INITVALS != 0))
            $fatal(1, "DP16KD model: unsupported configuration (%m)");
        for (k = 0; k < DEPTH; k = k + 1)
            mem[k] = W == 18 ? {18'd0, INITVALS[(k / 16) * 320 + (k % 16) * 20 +: 18]}
                   : W == 9 ? {27'd0, INITVALS[(k / 32) * 320 + (k / 2 % 16) * 20 + (k % 2) * 9 +: 9]} : 36'd0;
        doa = 36'd0;
        dob = 36'd0;
    end

    // Per port: the word it addresses, the bits it writes (byte enables) and the data it writes.
    wire [13:0] wa = ada >> S, wb = adb >> S;
    wire ena = CEA && {CSA2, CSA1, CSA0} == 3'b000, enb = CEB && {CSB2, CSB1, CSB0} == 3'b000;
    function [35:0] written(input [3:0] lanes);  // the bits of a word that byte enables select
        integer l;
        begin
            written = LANES == 1 ? (36'd1 << W) - 36'd1 : 36'd0;
            for (l = 0; l < LANES; l = l + 1)
                if (lanes[l]) written[9 * l +: 9] = 9'h1ff;
        end
    endfunction
    wire [35:0] wra = ena && WEA ? written(ada[3:0]) : 36'd0, wrb = enb && WEB ? written(adb[3:0]) : 36'd0;
    wire [35:0] ina = W == 36 ? {dib, dia} : {18'd0, dia}, inb = {18'd0, dib};
    // the bits of each port's word that the other port writes now, and the bits both write
    wire [35:0] hit_a = wa == wb ? wrb : 36'd0, hit_b = wa == wb ? wra : 36'd0, both = wa == wb ? wra & wrb : 36'd0;

    function [35:0] merged(input [35:0] old, input [35:0] bits, input [35:0] data);
        merged = (old & ~bits) | (data & bits);
    endfunction
    function [35:0] undefined(input [35:0] word, input [35:0] bits);
        undefined = (word & ~bits) | (bits & {36{1'bx}});
    endfunction

    reg [35:0] old_a, old_b, new_a;
    always @(posedge CLKA) begin
        if (!CLKB) $fatal(1, "DP16KD model: the two ports must share one clock (%m)");
        if (RSTA || RSTB) $fatal(1, "DP16KD model: output resets are not modelled (%m)");
        old_a = mem[wa];
        old_b = mem[wb];
        new_a = merged(old_a, wra, ina);
        if (ena && W != 36 && !(|wra && WRITEMODE_A == "NORMAL"))
            doa <= undefined(|wra && WRITEMODE_A == "WRITETHROUGH" ? new_a : old_a, hit_a);
        if (enb && !(|wrb && WRITEMODE_B == "NORMAL"))
            dob <= undefined(|wrb && WRITEMODE_B == "WRITETHROUGH" ? merged(old_b, wrb, inb) : old_b, hit_b);
        if (|wra)
            mem[wa] <= undefined(new_a, both);
        if (|wrb)  // (after port A's write when both write one word)
            mem[wb] <= undefined(merged(wa == wb ? new_a : old_b, wrb, inb), both);
    end
endmodule

// MULT18X18D without registers (every REG_* "NONE", as Yosys's $__MUL18X18 mapping leaves them): the
// 36-bit product of A and B, each signed or not by SIGNEDA / SIGNEDB. The cascade and register outputs
// (SRO*, RO*, SIGNEDP) are not modelled: Yosys's mapping leaves them unconnected.
module MULT18X18D(
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
    output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
    output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
    output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
    output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output SIGNEDP
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    initial
        if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" || REG_INPUTC_CLK != "NONE"
                || REG_PIPELINE_CLK != "NONE" || REG_OUTPUT_CLK != "NONE" || MULT_BYPASS != "DISABLED")
            $fatal(1, "MULT18X18D model: unsupported configuration (%m)");

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    wire [35:0] a_ext = SIGNEDA ? {{18{a[17]}}, a} : {18'd0, a};
    wire [35:0] b_ext = SIGNEDB ? {{18{b[17]}}, b} : {18'd0, b};
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = a_ext * b_ext;
    assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0, SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = 36'bx;
    assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0, ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0, ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = 54'bx;
    assign SIGNEDP = 1'bx;
endmodule
