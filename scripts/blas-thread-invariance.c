// Measures whether OpenBLAS sgemm/dgemm/ssyrk/strsm and LAPACK sgeqrf+sorgqr give identical bytes
// for the thread count set by OPENBLAS_NUM_THREADS: run once per count (scripts/blas-thread-invariance.sh
// does) and compare the printed FNV-1a hashes. "whole" is one call; "chunked128" the same product as
// calls with K <= 128 accumulated with beta = 1 (below GEMM_Q, so OpenBLAS never splits K itself).
// Result on the AVX2 EPYC (Zen kernel, OpenBLAS 0.3.21): 1 and 2 threads differ for every line, K
// chunking or not; this is why the orthogonal QR uses the package's own gemm kernel (CGemmKernels).
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
extern void sgeqrf_(int*,int*,float*,int*,float*,float*,int*,int*);
extern void sorgqr_(int*,int*,int*,float*,int*,float*,float*,int*,int*);
static uint64_t fnv(const void* p, size_t n){const unsigned char*b=p;uint64_t h=0xcbf29ce484222325ULL;for(size_t i=0;i<n;i++){h^=b[i];h*=0x100000001b3ULL;}return h;}
static uint64_t st=88172645463325252ULL;
static float rnd(){st^=st<<13;st^=st>>7;st^=st<<17;return (float)((double)(st>>11)/9007199254740992.0*2-1);}
static void fill(float*x,size_t n){for(size_t i=0;i<n;i++)x[i]=rnd();}
static void dfill(double*x,size_t n){for(size_t i=0;i<n;i++)x[i]=rnd();}
int main(){
  printf("threads %d core %s\n", openblas_get_num_threads(), openblas_get_corename());
  int shapes[][5]={ // M N K transA transB  (col-major)
    {128,4000,4096,1,0},{4096,4000,128,0,0},{64,3000,4096,1,0},{600,500,700,0,0},{600,500,500,0,0},{600,500,1000,1,0},
    {1024,1024,1024,0,0},{1024,1024,385,0,0},{1024,1024,401,0,0},{1024,1024,770,0,0},{1000,37,555,1,0},{37,1000,555,0,1},
    {4096,4096,128,0,0},{4096,4096,64,0,1},{128,128,4096,1,0},{4000,3872,128,0,0},{3968,3840,128,0,0},{517,411,128,1,0}};
  int ns=sizeof(shapes)/sizeof(shapes[0]);
  for(int s=0;s<ns;s++){
    int M=shapes[s][0],N=shapes[s][1],K=shapes[s][2],ta=shapes[s][3],tb=shapes[s][4];
    int lda=ta?K:M, ldb=tb?N:K;
    float*A=malloc(sizeof(float)*(size_t)M*K),*B=malloc(sizeof(float)*(size_t)K*N),*C=malloc(sizeof(float)*(size_t)M*N),*C2=malloc(sizeof(float)*(size_t)M*N);
    st=1234+s; fill(A,(size_t)M*K); fill(B,(size_t)K*N); fill(C,(size_t)M*N); memcpy(C2,C,sizeof(float)*(size_t)M*N);
    cblas_sgemm(CblasColMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,M,N,K,-1.0f,A,lda,B,ldb,1.0f,C,M);
    // chunked K <= 128, beta 1 after the first chunk
    for(int k0=0;k0<K;k0+=128){int kc=K-k0<128?K-k0:128;
      const float*Ak= ta? A+k0 : A+(size_t)k0*lda; const float*Bk= tb? B+(size_t)k0*ldb : B+k0;
      cblas_sgemm(CblasColMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,M,N,kc,-1.0f,Ak,lda,Bk,ldb,1.0f,C2,M);}
    printf("sgemm %dx%dx%d t%d%d whole %016llx chunked128 %016llx\n",M,N,K,ta,tb,(unsigned long long)fnv(C,sizeof(float)*(size_t)M*N),(unsigned long long)fnv(C2,sizeof(float)*(size_t)M*N));
    free(A);free(B);free(C);free(C2);
  }
  for(int s=0;s<4;s++){
    int M=(int[]){1024,600,128,4096}[s],N=(int[]){1024,500,3000,3000}[s],K=(int[]){128,700,4096,128}[s];
    double*A=malloc(8*(size_t)M*K),*B=malloc(8*(size_t)K*N),*C=malloc(8*(size_t)M*N),*C2=malloc(8*(size_t)M*N);
    st=99+s; dfill(A,(size_t)M*K); dfill(B,(size_t)K*N); dfill(C,(size_t)M*N); memcpy(C2,C,8*(size_t)M*N);
    cblas_dgemm(CblasColMajor,CblasNoTrans,CblasNoTrans,M,N,K,-1.0,A,M,B,K,1.0,C,M);
    for(int k0=0;k0<K;k0+=128){int kc=K-k0<128?K-k0:128;
      cblas_dgemm(CblasColMajor,CblasNoTrans,CblasNoTrans,M,N,kc,-1.0,A+(size_t)k0*M,M,B+k0,K,1.0,C2,M);}
    printf("dgemm %dx%dx%d whole %016llx chunked128 %016llx\n",M,N,K,(unsigned long long)fnv(C,8*(size_t)M*N),(unsigned long long)fnv(C2,8*(size_t)M*N));
    free(A);free(B);free(C);free(C2);
  }
  { int n=1024,k=1024; float*A=malloc(4*(size_t)n*k),*C=calloc((size_t)n*n,4); st=7; fill(A,(size_t)n*k);
    cblas_ssyrk(CblasColMajor,CblasUpper,CblasTrans,n,k,1.0f,A,k,0.0f,C,n);
    printf("ssyrk %dx%d %016llx\n",n,k,(unsigned long long)fnv(C,4*(size_t)n*n));
    float*B=malloc(4*(size_t)n*n); fill(B,(size_t)n*n); for(int i=0;i<n;i++) C[i+(size_t)i*n]+=n;
    cblas_strsm(CblasColMajor,CblasRight,CblasUpper,CblasNoTrans,CblasNonUnit,n,n,1.0f,C,n,B,n);
    printf("strsm %dx%d %016llx\n",n,n,(unsigned long long)fnv(B,4*(size_t)n*n)); free(A);free(B);free(C);}
  for(int s=0;s<2;s++){ int n=(int[]){300,1024}[s], m=(int[]){520,1024}[s]; float*A=malloc(4*(size_t)m*n),tau[2048],wq; int lw=-1,info;
    st=5; fill(A,(size_t)m*n); sgeqrf_(&m,&n,A,&m,tau,&wq,&lw,&info); lw=(int)wq; float*w=malloc(4*(size_t)lw); sgeqrf_(&m,&n,A,&m,tau,w,&lw,&info);
    lw=-1; sorgqr_(&m,&n,&n,A,&m,tau,&wq,&lw,&info); lw=(int)wq; w=realloc(w,4*(size_t)lw); sorgqr_(&m,&n,&n,A,&m,tau,w,&lw,&info);
    printf("lapack sgeqrf+sorgqr %dx%d %016llx\n",m,n,(unsigned long long)fnv(A,4*(size_t)m*n)); free(A);free(w);}
  return 0;
}
