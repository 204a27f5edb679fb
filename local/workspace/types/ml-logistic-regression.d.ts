// ml-logistic-regression 2.x ships no typings; this covers the part the local workspace uses.
declare module 'ml-logistic-regression' {
  import type { Matrix } from 'ml-matrix';

  interface LogisticRegressionOptions {
    numSteps?: number;
    learningRate?: number;
  }

  class LogisticRegression {
    constructor(options?: LogisticRegressionOptions);
    numberClasses: number;
    train(features: Matrix, target: Matrix): void;
    /** Class indices 0..numberClasses-1. */
    predict(features: Matrix): number[];
    toJSON(): Record<string, unknown>;
    static load(model: Record<string, unknown>): LogisticRegression;
  }

  export = LogisticRegression;
}
