package io.ionllama.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.ionllama.backend.cpu.CpuBackend;
import io.ionllama.model.ParamLayout;
import org.junit.jupiter.api.Test;

/**
 * Muon against an independent double-precision computation of its update rule, written out
 * step by step from the formulas: Nesterov momentum, Frobenius normalisation, five Newton–Schulz
 * iterations with (a, b, c) = (3.4445, -4.7750, 2.0315) on the wide orientation, and the update
 * W -= lr (0.2 sqrt(max(r, c)) O + wd W). Vectors, embeddings and heads are left to AdamW.
 */
class MuonTest {

    static double[][] mul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b[0].length; j++) {
                for (int k = 0; k < b.length; k++) {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return c;
    }

    static double[][] t(double[][] a) {
        double[][] c = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                c[j][i] = a[i][j];
            }
        }
        return c;
    }

    /** Newton–Schulz orthogonalisation as the formulas state it. */
    static double[][] orthogonalise(double[][] u) {
        boolean transpose = u.length > u[0].length;
        double[][] x = transpose ? t(u) : u;
        double norm = 0;
        for (double[] row : x) {
            for (double v : row) {
                norm += v * v;
            }
        }
        norm = Math.sqrt(norm) + 1e-7;
        for (double[] row : x) {
            for (int j = 0; j < row.length; j++) {
                row[j] /= norm;
            }
        }
        for (int k = 0; k < 5; k++) {
            double[][] a = mul(x, t(x));
            double[][] aa = mul(a, a);
            double[][] bm = new double[a.length][a.length];
            for (int i = 0; i < a.length; i++) {
                for (int j = 0; j < a.length; j++) {
                    bm[i][j] = -4.7750 * a[i][j] + 2.0315 * aa[i][j];
                }
            }
            double[][] bx = mul(bm, x);
            for (int i = 0; i < x.length; i++) {
                for (int j = 0; j < x[0].length; j++) {
                    x[i][j] = 3.4445 * x[i][j] + bx[i][j];
                }
            }
        }
        return transpose ? t(x) : x;
    }

    @Test
    void oneStepMatchesTheFormulasForWideAndTallMatrices() {
        ParamLayout layout = new ParamLayout();
        ParamLayout.Tensor wide = layout.add("enc.0.w_u", ParamLayout.Kind.MATRIX, 2, 3);
        ParamLayout.Tensor tall = layout.add("enc.0.mlp.w_down", ParamLayout.Kind.MATRIX, 3, 2);
        ParamLayout.Tensor head = layout.add("head", ParamLayout.Kind.MATRIX, 2, 2);
        ParamLayout.Tensor norm = layout.add("dec.norm", ParamLayout.Kind.VECTOR, 2);
        float[] p = {0.5f, -0.25f, 1f, 0.75f, -1f, 0.125f, /* tall */ 0.3f, -0.6f, 0.9f, 0.2f, -0.4f, 0.1f, 1, 2, 3, 4, 1, 1};
        float[] g = {0.1f, 0.2f, -0.3f, 0.4f, -0.5f, 0.6f, /* tall */ -0.2f, 0.1f, 0.3f, -0.4f, 0.5f, 0.05f, 9, 9, 9, 9, 9, 9};
        float[] before = p.clone();
        float lr = 0.01f, wd = 0.1f;
        Muon muon = new Muon(layout, wd);
        assertThat(muon.muonTensors()).containsExactly(wide, tall);
        assertThat(muon.adamwTensors()).containsExactly(head, norm);
        try (CpuBackend cpu = new CpuBackend(1)) {
            muon.update(cpu, p, g, lr, 1f);
        }
        for (ParamLayout.Tensor ten : new ParamLayout.Tensor[] {wide, tall}) {
            int r = ten.rows(), c = ten.cols();
            double[][] u = new double[r][c];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < c; j++) {
                    double grad = g[ten.off() + i * c + j];
                    double m = grad;                 // momentum starts at 0: M = 0.95·0 + G
                    u[i][j] = grad + 0.95 * m;       // Nesterov
                }
            }
            double[][] o = orthogonalise(u);
            double scale = 0.2 * Math.sqrt(Math.max(r, c));
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < c; j++) {
                    int k = ten.off() + i * c + j;
                    double expected = before[k] - lr * (scale * o[i][j] + wd * before[k]);
                    assertThat((double) p[k]).as("%s[%d,%d]", ten.name(), i, j).isCloseTo(expected,
                            org.assertj.core.data.Offset.offset(2e-5));
                }
            }
        }
        // Tensors left to AdamW are untouched by Muon.
        for (int k = head.off(); k < p.length; k++) {
            assertThat(p[k]).isEqualTo(before[k]);
        }
    }

    @Test
    void orthogonalisedUpdateHasSingularValuesNearOne() {
        // After Newton–Schulz, O Oᵀ ≈ I (singular values in roughly [0.7, 1.2] by design of the coefficients).
        double[][] u = {{1, 2, 3, 4}, {-1, 0.5, 2, -3}, {0.1, 0.2, -0.3, 0.9}};
        double[][] o = orthogonalise(u);
        double[][] oot = mul(o, t(o));
        for (int i = 0; i < 3; i++) {
            assertThat(oot[i][i]).isBetween(0.4, 1.5);
        }
    }
}
